"""scipy/numpy/Evidently reference values for drift's statistics.

Writes stats_expected.json, which stats_test.go checks every statistic
against. Samples are not stored: both sides rebuild them from a seed with
the same splitmix64 generator (see sample() here and in stats_test.go).

Rerun (from the repository root):

    python3 -m venv /tmp/evvenv
    /tmp/evvenv/bin/pip install 'evidently==0.7.23' 'pandas<3'
    /tmp/evvenv/bin/python internal/drift/testdata/gen_stats.py
"""

import json
import math
import os
import warnings

import evidently
import numpy as np
import pandas as pd
import scipy
from evidently.legacy.calculations.stattests.chisquare_stattest import _chi_stat_test
from evidently.legacy.calculations.stattests.jensenshannon import _jensenshannon
from evidently.legacy.calculations.stattests.wasserstein_distance_norm import _wasserstein_distance_norm
from evidently.legacy.calculations.stattests.z_stattest import _z_stat_test
from evidently.legacy.core import ColumnType
from scipy import stats
from scipy.spatial import distance

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
M64 = (1 << 64) - 1


def sample(spec):
    """Deterministic sample: splitmix64 uniforms u in [0, 1), transformed.

    kind "uniform": shift + scale*u;  "square": shift + scale*u*u;
    "int": shift + floor(levels*u).
    """
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


KS_CASES = [
    ("tiny equal", uni(1, 5), uni(2, 5, 0.3)),
    ("small unequal", uni(3, 10), uni(4, 7, 0.2)),
    ("separated", uni(5, 15), uni(6, 15, 1.5)),
    ("identical", uni(7, 20), uni(7, 20)),
    ("ties", ints(8, 40, 6), ints(9, 60, 6)),
    ("ties shifted", ints(10, 300, 8), ints(11, 500, 8, 1)),
    ("equal 100 shifted", uni(12, 100), uni(13, 100, 0.15)),
    ("250 vs 400 skewed", sq(14, 250), uni(15, 400)),
    ("1000 vs 1000 small shift", uni(16, 1000), uni(17, 1000, 0.02)),
    ("1000 vs 7043", uni(18, 1000), uni(19, 7043, 0.01)),
    ("999 vs 10000 exact", uni(20, 999), uni(21, 10000, 0.03)),
    ("300 vs 12000 asymptotic", uni(22, 300), uni(23, 12000, 0.05)),
    ("50 vs 20000 asymptotic", uni(24, 50), uni(25, 20000, 0.1)),
    ("1000 vs 10001 asymptotic", uni(26, 1000), uni(27, 10001)),
    ("3 vs 10001 asymptotic", uni(28, 3), uni(29, 10001)),
    ("800 vs 14086 ties asymptotic", ints(30, 800, 11), ints(31, 14086, 11)),
]

WASSERSTEIN_CASES = [
    ("small", uni(40, 7), uni(41, 5, 0.5)),
    ("ties", ints(42, 500, 9), ints(43, 700, 9, 1)),
    ("skewed", sq(44, 2000, 0, 100), sq(45, 3000, 5, 100)),
    ("identical", uni(46, 1000), uni(46, 1000)),
    ("constant reference", ints(47, 1500, 1, 3), ints(48, 1500, 2, 3)),
]

STURGES_CASES = [
    ("uniform", uni(50, 700, -3, 10), uni(51, 900, -2, 10)),
    ("integers 0-72 like months_active", ints(52, 7043, 73), ints(53, 7043, 73)),
    ("power-of-two size 16", ints(54, 8, 40), ints(55, 8, 40)),
    ("power-of-two size 1024", uni(56, 512, 0, 1), ints(57, 512, 30)),
    ("size 17", uni(58, 9, 0, 7), uni(59, 8, 0, 7)),
]

CHI_CASES = [
    ([50, 30, 20], [45, 35, 20]),
    ([500, 300, 200], [400, 350, 260]),
    ([10, 0, 5, 7], [8, 3, 6, 7]),  # a category unseen in the reference
    ([120, 80, 60, 30, 10], [110, 85, 55, 40, 15]),
    ([333, 333, 334], [333, 333, 334]),
]

Z_CASES = [
    # (reference rows holding the first value, reference rows, current ..., current rows)
    (30, 100, 30, 100),
    (300, 1000, 340, 1000),
    (0, 50, 50, 50),
    (412, 800, 390, 700),
    (5, 20, 19, 20),
    (40, 40, 40, 40),
    (48, 100, 52, 100),  # |z| < sqrt(2): ndtr's erf branch
    (400, 1000, 420, 1000),
]

JS_CASES = [
    ([0.5, 0.3, 0.2], [0.45, 0.35, 0.2]),
    ([0.7, 0.3], [0.1, 0.9]),
    ([0.4, 0.0, 0.6], [0.2, 0.3, 0.5]),
    ([1.0], [1.0]),
    ([1.0, 0.0], [0.0, 1.0]),
    ([5174 / 7043, 1869 / 7043], [5342 / 7043, 1701 / 7043]),
]


def categorical_series(counts):
    return pd.Series([f"c{i}" for i, c in enumerate(counts) for _ in range(c)])


def main():
    doc = {
        "generator": "internal/drift/testdata/gen_stats.py",
        "versions": {"evidently": evidently.__version__, "scipy": scipy.__version__, "numpy": np.__version__},
    }

    ks = []
    for name, a, b in KS_CASES:
        x, y = sample(a), sample(b)
        r = stats.ks_2samp(x, y)
        ks.append({"name": name, "a": a, "b": b, "statistic": float(r.statistic), "pvalue": float(r.pvalue)})
    doc["ks"] = ks

    kstwo = []
    for n in [1, 2, 3, 5, 10, 30, 100, 140, 141, 200, 500, 952, 1000, 5000]:
        xs = [0.4 / n, 0.75 / n, 1.5 / n, 0.001, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15,
              0.2, 0.3, 0.45, 0.5, 0.6, 0.9, (n - 0.5) / n, 0.999]
        for x in xs:
            if 0 < x < 1:
                kstwo.append({"n": n, "x": x, "sf": float(stats.kstwo.sf(x, n))})
    doc["kstwo_sf"] = kstwo

    ws = []
    for name, a, b in WASSERSTEIN_CASES:
        x, y = sample(a), sample(b)
        norm, _ = _wasserstein_distance_norm(pd.Series(x), pd.Series(y), ColumnType.Numerical, 0.1)
        ws.append({"name": name, "a": a, "b": b,
                   "distance": float(stats.wasserstein_distance(x, y)),
                   "std": float(np.std(x)),
                   "normed": float(norm)})
    doc["wasserstein"] = ws

    st = []
    for name, a, b in STURGES_CASES:
        x, y = sample(a), sample(b)
        edges = np.histogram_bin_edges(np.concatenate([x, y]), bins="sturges")
        st.append({"name": name, "a": a, "b": b, "edges": edges.tolist(),
                   "ref_counts": np.histogram(x, edges)[0].tolist(),
                   "cur_counts": np.histogram(y, edges)[0].tolist()})
    doc["sturges"] = st

    chi = []
    for rc, cc in CHI_CASES:
        p, drifted = _chi_stat_test(categorical_series(rc), categorical_series(cc), ColumnType.Categorical, 0.05)
        chi.append({"ref": rc, "cur": cc, "pvalue": float(p), "drifted": bool(drifted)})
    doc["chisquare"] = chi

    z = []
    for rf, nr, cf, nc in Z_CASES:
        ref = pd.Series(["a"] * rf + ["b"] * (nr - rf))
        cur = pd.Series(["a"] * cf + ["b"] * (nc - cf))
        p, drifted = _z_stat_test(ref, cur, ColumnType.Categorical, 0.05)
        z.append({"ref_first": rf, "n_ref": nr, "cur_first": cf, "n_cur": nc,
                  "pvalue": float(p), "drifted": bool(drifted)})
    doc["ztest"] = z

    js = []
    for p, q in JS_CASES:
        js.append({"p": p, "q": q, "distance": float(distance.jensenshannon(p, q))})
    # Evidently's own path on categorical samples (frequencies, no smoothing).
    for rc, cc in CHI_CASES:
        d, _ = _jensenshannon(categorical_series(rc), categorical_series(cc), ColumnType.Categorical, 0.1)
        js.append({"ref_counts": rc, "cur_counts": cc, "distance": float(d)})
    doc["jensenshannon"] = js

    with open(os.path.join(HERE, "stats_expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
