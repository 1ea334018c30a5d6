#!/usr/bin/env python3
"""Splits a synthesised ECP5 design's logic by the RTL's signal prefixes (docs/streaming.md
section 3, "Where the per-lane logic went").

    scripts/logic-split.py NETLIST.json [--top N]

NETLIST.json is the netlist Yosys's `synth_ecp5 -json` wrote from a spikefab design (`compile
-o OUT` writes the script, `OUT/<module>.ys`). Yosys names each mapped cell after the net it
drives, so a cell of the core's `l3p0_sum` carries `board.core.l3p0_sum...` in its name. The
script counts LUT4 slots (a LUT4 one, a CCU2C carry two, the count the device's LUT4s cap) and
flip-flops per prefix:

- `P <part>`: a projection unit's `l<k>p<j>_<part>` (e.g. `P sum`, the units' state adders and
  sum registers), summed over the units, with their number;
- `L <part>`: a layer's `l<k>_<part>`;
- any other name by its leading letters (`xb`: the X state memory, `dsh`: the shared dense
  datapath, `u`: the update lanes, `tx`: the tile buffer...).

The split is approximate: a cell is counted where the net it drives is named, which is not
always where the logic is (a read multiplexer is named after what it feeds).
"""

import argparse
import collections
import json
import re
import sys

SLOTS = {"LUT4": 1, "CCU2C": 2}


def split(netlist):
    """(LUT4 slots, flip-flops, units) per group of the netlist's top module."""
    mods = netlist["modules"]
    tops = [m for m, v in mods.items() if v.get("attributes", {}).get("top")] or list(mods)
    cells = mods[tops[0]]["cells"]
    slots, ffs, units = collections.Counter(), collections.Counter(), collections.defaultdict(set)
    for name, cell in cells.items():
        kind = cell["type"]
        if kind not in SLOTS and kind != "TRELLIS_FF":
            continue
        m = re.search(r"(?:^|\.)core\.(.*)", name)
        net = m.group(1) if m else name.lstrip("$\\")
        net = re.split(r"_TRELLIS|_LUT4|_CCU2C|_PFUMX|_L6MUX|[.\[]", net)[0]
        unit = re.match(r"l(\d+)(p\d+)?_([a-z]+)", net)
        if unit:
            key = ("P " if unit.group(2) else "L ") + unit.group(3)
            units[key].add(unit.group(1) + (unit.group(2) or ""))
        else:
            lead = re.match(r"[A-Za-z]+", net)
            key = lead.group(0) if lead else "other"
        if kind == "TRELLIS_FF":
            ffs[key] += 1
        else:
            slots[key] += SLOTS[kind]
    return slots, ffs, units


def bad(msg):
    """Bad input: the message on stderr, exit 2."""
    print(msg, file=sys.stderr)
    sys.exit(2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("netlist")
    ap.add_argument("--top", type=int, default=20, help="groups to print (largest first)")
    a = ap.parse_args()
    try:
        netlist = json.load(open(a.netlist))
    except (OSError, ValueError) as e:
        bad(f"{a.netlist}: cannot read a Yosys JSON netlist: {e}")
    if not isinstance(netlist, dict) or not isinstance(netlist.get("modules"), dict) or not netlist["modules"]:
        bad(f"{a.netlist}: no modules: not a Yosys JSON netlist")
    slots, ffs, units = split(netlist)
    print(f"LUT4 slots {sum(slots.values())}, flip-flops {sum(ffs.values())}")
    print(f"{'group':24s}{'LUT4 slots':>12s}{'FF':>10s}  units")
    for key, n in slots.most_common(a.top):
        print(f"{key:24s}{n:12d}{ffs[key]:10d}  {len(units[key]) if key in units else ''}")


if __name__ == "__main__":
    main()
