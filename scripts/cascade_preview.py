"""What an input-adaptive cascade of an ensemble's students would decide, before it is built.

The cascade (issue 52) runs the students in a fixed order and stops after the first stage
whose combined output meets a margin: top class count minus runner-up, in output spikes over
the T steps. Stage k's output is the one design run under the mask of the first k students
(`simulate --active-students`, the cycle engine, exact with the RTL and HLS), so this script
measures the cascade's accuracy and how many students it runs per input, for each margin. It
does not measure energy or cycles: those depend on the cascade's schedule, which is not built.

The order is greedy, nested, by accuracy: the best single student, then the student that
makes the best pair with it, and so on. It is chosen on the inputs it is measured on (no
calibration split), so the figures are optimistic.

Usage (the spikefab Python package installed, see docs/python.md):
    python scripts/cascade_preview.py [MODEL.nir] [X.npy] [Y.npy] [T] [--schedule S]
Defaults: models/ensemble_bw/ensemble_bw.nir, the test digits, T = 8, the sequential schedule.
"""

import sys

import numpy as np

import spikefab


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    model = args[0] if len(args) > 0 else "models/ensemble_bw/ensemble_bw.nir"
    x_path = args[1] if len(args) > 1 else "models/digits_test_x.npy"
    y_path = args[2] if len(args) > 2 else "models/digits_test_y.npy"
    steps = int(args[3]) if len(args) > 3 else 8
    schedule = argv[argv.index("--schedule") + 1] if "--schedule" in argv else "sequential"
    x = np.load(x_path).astype(np.float64)
    y = np.load(y_path)
    ens = spikefab.load(model, timesteps=steps, reset="zero")
    # The ensemble's students, by name (explore's K sweep lists them; one input is enough).
    ensemble = spikefab.explore(ens, x[:1], schedule=schedule).to_dict()["exploration"]["ensemble"]
    if ensemble is None:
        sys.exit(f"{model}: no ensemble of students")
    names = [s["name"] for s in ensemble["students"]]
    cache = {}

    def counts(subset):
        key = tuple(sorted(subset))
        if key not in cache:
            out = spikefab.simulate(ens, x, engine="cycle", schedule=schedule, datapath="event",
                                    active_students=[names[i] for i in key])
            cache[key] = np.asarray(out).sum(axis=1)
        return cache[key]

    def accuracy(c):
        return float((c.argmax(axis=1) == y).mean())

    order = []
    while len(order) < len(names):
        rest = [i for i in range(len(names)) if i not in order]
        order.append(max(rest, key=lambda i: (accuracy(counts(order + [i])), -i)))
    stages = [counts(order[: k + 1]) for k in range(len(order))]
    print("order:", ", ".join(names[i] for i in order))
    print("accuracy of each prefix:", ", ".join(f"{100 * accuracy(c):.2f}%" for c in stages))

    def margin(c):
        s = np.sort(c, axis=1)
        return s[:, -1] - s[:, -2]

    print("margin  accuracy  inputs stopping at each stage          mean students run")
    for m in range(steps + 1):
        done = np.zeros(len(y), bool)
        stage = np.zeros(len(y), int)
        for k, c in enumerate(stages):
            hit = ~done & ((margin(c) >= m) | (k == len(stages) - 1))
            stage[hit] = k
            done |= hit
        pred = np.array([stages[stage[i]][i].argmax() for i in range(len(y))])
        frac = np.bincount(stage, minlength=len(stages)) / len(y)
        print(f"{m:>6}  {100 * (pred == y).mean():>7.2f}%  {' '.join(f'{f:.3f}' for f in frac):<38} "
              f"{(stage + 1).mean():.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
