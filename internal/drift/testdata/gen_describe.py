"""numpy reference values for the drift report's per-column statistics.

Writes describe_expected.json, which describe_test.go checks the report's
ColumnStats against: np.mean, np.std (ddof=0), np.min, np.max and
np.quantile (default method "linear") at 0.25, 0.5 and 0.75. Samples are
not stored: both sides rebuild them from a seed with the splitmix64
generator of gen_stats.py (sampleSpec in stats_test.go).

Rerun (from the repository root):

    python3 -m venv /tmp/npvenv
    /tmp/npvenv/bin/pip install numpy
    /tmp/npvenv/bin/python internal/drift/testdata/gen_describe.py
"""

import json
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
M64 = (1 << 64) - 1


def sample(spec):
    """Deterministic sample, as in gen_stats.py: splitmix64 uniforms u in
    [0, 1); "uniform": shift + scale*u; "square": shift + scale*u*u;
    "int": shift + floor(levels*u)."""
    state = spec["seed"] & M64
    out = []
    for _ in range(spec["n"]):
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        z = z ^ (z >> 31)
        u = (z >> 11) * 2.0**-53
        kind = spec["kind"]
        if kind == "uniform":
            out.append(spec["shift"] + spec["scale"] * u)
        elif kind == "square":
            out.append(spec["shift"] + spec["scale"] * (u * u))
        elif kind == "int":
            out.append(float(spec["shift"] + math.floor(spec["levels"] * u)))
        else:
            raise ValueError(kind)
    return np.array(out, dtype=np.float64)


def uni(seed, n, shift=0.0, scale=1.0):
    return {"seed": seed, "n": n, "kind": "uniform", "shift": shift, "scale": scale}


def sq(seed, n, shift=0.0, scale=1.0):
    return {"seed": seed, "n": n, "kind": "square", "shift": shift, "scale": scale}


def ints(seed, n, levels, shift=0):
    return {"seed": seed, "n": n, "kind": "int", "levels": levels, "shift": shift}


CASES = [
    ("one value", uni(1, 1)),
    ("two values", uni(2, 2, -1.0, 3.0)),
    ("five values", uni(3, 5)),
    ("ties", ints(4, 40, 6)),
    ("one level", ints(5, 30, 1, 7)),
    ("negative", uni(6, 101, -50.0, 30.0)),
    ("skewed", sq(7, 1000, 0.5, 99.5)),
    ("large", uni(8, 20000, 0.0, 1e6)),
    ("int large", ints(9, 7043, 73)),
]


def main():
    out = {
        "generator": "internal/drift/testdata/gen_describe.py",
        "versions": {"numpy": np.__version__},
        "cases": [],
    }
    for name, spec in CASES:
        x = sample(spec)
        q = np.quantile(x, [0.25, 0.5, 0.75])
        out["cases"].append({
            "name": name,
            "sample": spec,
            "mean": float(np.mean(x)),
            "std": float(np.std(x)),
            "min": float(np.min(x)),
            "p25": float(q[0]),
            "median": float(q[1]),
            "p75": float(q[2]),
            "max": float(np.max(x)),
        })
    with open(os.path.join(HERE, "describe_expected.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
