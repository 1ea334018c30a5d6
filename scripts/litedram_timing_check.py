#!/usr/bin/env python3
"""Judges an SDR SDRAM command log with LiteDRAM's own timing checker.

LiteDRAM's simulation PHY (`litedram.phy.model.SDRAMPHYModel`) checks the commands it
receives with `DFITimingsChecker`: tRP, tRCD, tRAS, tRC, tRFC, tCCD, tWR, tWTR, tRRD and
tREFI, per bank, in picoseconds. This script replays a command log, one command per line as
spikefab's chip models write it (`sim::sdram::log_command`, `hdl/sf_sdram_model.v`):

    C <cycle> ACT <bank> <row> | RD <bank> <col> | WR <bank> <col> <hex> | PRE <bank>
            | PREA | REF | MRS <mode>

on a one-phase SDR DFI interface into that checker (Migen's simulator), with the timing given
in cycles of the log's clock, and prints every violation it reports, as cycles.

    litedram_timing_check.py LOG --clock-mhz F --banks N --rcd N --rp N --ras N --rrd N
                             --rfc N --wr N --refi N

Exit 0: no violation; 1: violations (listed); 2: bad input. Needs `litedram` and `migen`
(pip; `.ci/run` installs them in a venv of their own).
"""

import argparse
import contextlib
import io
import re
import sys

# (cs_n, ras_n, cas_n, we_n) of each command on the SDR command bus.
PINS = {
    "ACT": (0, 0, 1, 1),
    "RD": (0, 1, 0, 1),
    "WR": (0, 1, 0, 0),
    "PRE": (0, 0, 1, 0),
    "PREA": (0, 0, 1, 0),
    "REF": (0, 0, 0, 1),
    "MRS": (0, 0, 0, 0),
}
NOP = (0, 1, 1, 1)

# The checker names a broken rule by its two commands; the datasheet's name of each
# (litedram.phy.model.DFITimingsChecker.RULES).
RULES = {
    ("PRE", "ACT"): "tRP",
    ("PRE", "REF"): "tRP",
    ("ACT", "WR"): "tRCD",
    ("ACT", "RD"): "tRCD",
    ("ACT", "PRE"): "tRAS",
    ("REF", "PRE"): "tRFC",
    ("REF", "ACT"): "tRFC",
    ("WR", "RD"): "tCCD/tWTR",
    ("WR", "WR"): "tCCD",
    ("RD", "RD"): "tCCD",
    ("RD", "WR"): "tCCD",
    ("ACT", "ACT"): "tRC",
    ("WR", "PRE"): "tWR",
}


def parse(path, banks):
    """(cycle, pins, bank, address) per command line, in cycle order."""
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            w = line.split()
            if not w:
                continue
            if len(w) < 3 or w[0] != "C" or w[2] not in PINS:
                raise ValueError(f"{path}:{n}: not a command line: {line.strip()!r}")
            try:
                cycle = int(w[1])
                args = [int(x) for x in w[3:4 + (w[2] in ("ACT", "RD", "WR"))]]
            except ValueError:
                raise ValueError(f"{path}:{n}: a number expected: {line.strip()!r}") from None
            name = w[2]
            bank, addr = 0, 0
            if name in ("ACT", "RD", "WR"):
                if len(args) < 2:
                    raise ValueError(f"{path}:{n}: {name} needs a bank and an address")
                bank, addr = args[0], args[1]
            elif name == "PRE":
                if not args:
                    raise ValueError(f"{path}:{n}: PRE needs a bank")
                bank = args[0]
            elif name == "PREA":
                addr = 1 << 10  # A10 high: every bank
            elif name == "MRS":
                if not args:
                    raise ValueError(f"{path}:{n}: MRS needs the mode")
                addr = args[0]
            if not 0 <= bank < banks:
                raise ValueError(f"{path}:{n}: bank {bank} outside 0..{banks - 1}")
            if out and cycle <= out[-1][0]:
                raise ValueError(f"{path}:{n}: cycle {cycle} not after {out[-1][0]}")
            out.append((cycle, PINS[name], bank, addr))
    return out


def check(trace, a):
    import migen.fhdl.structure as fhdl
    from litedram.phy.dfi import Interface
    from litedram.phy.model import DFITimingsChecker
    from migen import Module, Signal, run_simulation

    # The checker formats its messages with plain integers (the bank), which Migen's Python
    # simulator cannot print (it reads every argument as a signal; the Verilog LiteX simulates
    # takes them as constants). Each integer becomes an undriven signal holding that value:
    # the checker's logic is untouched.
    display_init = fhdl.Display.__init__

    def display(self, s, *args):
        display_init(self, s, *(Signal(max=max(2, x + 1), reset=x) if isinstance(x, int) else x for x in args))

    fhdl.Display.__init__ = display

    tck = 1000.0 / a.clock_mhz
    cyc = lambda n: (n, None)  # noqa: E731  (cycles, no nanoseconds)
    timings = {
        "tCK": tck,
        "tRP": cyc(a.rp),
        "tRCD": cyc(a.rcd),
        "tWR": cyc(a.wr),
        "tRFC": cyc(a.rfc),
        "tFAW": None,
        "tRAS": cyc(a.ras),
        "tREFI": cyc(a.refi),
        "tWTR": None,
        "tCCD": cyc(1),
        "tRRD": cyc(a.rrd),
        "tZQCS": None,
    }
    bankbits = max(1, (a.banks - 1).bit_length())

    class Bench(Module):
        def __init__(self):
            self.dfi = Interface(24, bankbits, 1, 16, nphases=1)
            # verbose: the per-interval tREFI check (the quiet one only reports per 64 ms).
            self.submodules.checker = DFITimingsChecker(self.dfi, a.banks, 1, timings, None, "SDR", verbose=True)

    dut = Bench()
    last = trace[-1][0] if trace else 0

    def replay():
        p = dut.dfi.phases[0]
        at = {c: (pins, bank, addr) for c, pins, bank, addr in trace}
        for c in range(last + 2):
            pins, bank, addr = at.get(c, (NOP, 0, 0))
            yield p.cs_n.eq(pins[0])
            yield p.ras_n.eq(pins[1])
            yield p.cas_n.eq(pins[2])
            yield p.we_n.eq(pins[3])
            yield p.bank.eq(bank)
            yield p.address.eq(addr)
            yield

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        run_simulation(dut, replay())
    found = []
    for line in buf.getvalue().splitlines():
        m = re.match(r"\[(\d+)ps\]\s+(.*violation.*)", line)
        # The "(64ms period)" check sums the refresh slack over 64 ms windows (for DDR's
        # postponed refreshes); its report condition `logging_enabled & ref_ps_mod == 0` is
        # `(logging_enabled & ref_ps_mod) == 0` in Python, so it fires on any trace shorter than
        # 64 ms. The per-interval tREFI check (verbose) is the SDR rule, and it is kept.
        if m and "64ms period" not in m.group(2):
            # The checker's time is its cycle counter times tCK, and it reports a command at
            # the edge after the one that issued it.
            cycle = round(int(m.group(1)) / (tck * 1000.0)) - 1
            what = m.group(2).strip()
            rule = re.match(r"(\w+)->(\w+) violation", what)
            if rule:
                what = f"{RULES.get(rule.groups(), '?')} violation ({what})"
            found.append((cycle, what))
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log")
    ap.add_argument("--clock-mhz", type=float, required=True)
    ap.add_argument("--banks", type=int, required=True)
    for t in ("rcd", "rp", "ras", "rrd", "rfc", "wr", "refi"):
        ap.add_argument(f"--{t}", type=int, required=True)
    a = ap.parse_args()
    if a.clock_mhz <= 0 or a.banks < 1 or min(a.rcd, a.rp, a.ras, a.rrd, a.rfc, a.wr, a.refi) < 0:
        print("error: clock, banks and timings must be positive", file=sys.stderr)
        return 2
    try:
        trace = parse(a.log, a.banks)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    found = check(trace, a)
    for cycle, what in found:
        print(f"cycle {cycle}: {what}")
    print(f"{len(trace)} commands, {len(found)} violations (LiteDRAM DFITimingsChecker)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
