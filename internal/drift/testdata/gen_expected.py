"""Evidently 0.7 per-column drift results on the StreamFlow sample months.

Writes evidently_expected.json, which drift's tests compare Compare with.
The data itself is not in the repository: it is read from
<repo>/../shared/data/streamflow (month_000, month_001).

Rerun (from the repository root):

    python3 -m venv /tmp/evvenv
    /tmp/evvenv/bin/pip install 'evidently==0.7.23' 'pandas<3'
    /tmp/evvenv/bin/python internal/drift/testdata/gen_expected.py

(evidently 0.7.23 does not import with pandas 3.)
"""

import json
import os
import sys
import warnings

import evidently
import numpy
import pandas as pd
import scipy
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

warnings.filterwarnings("ignore")

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, "..", "..", "..", "..", "shared", "data", "streamflow"))

FILES = ["users", "subscriptions", "usage_agg_30d", "payments_agg_90d", "support_agg_90d", "labels"]
NUMERICAL = [
    "months_active", "monthly_fee", "watch_hours_30d", "avg_session_mins_7d",
    "unique_devices_30d", "skips_7d", "rebuffer_events_7d", "failed_payments_90d",
    "support_tickets_90d", "ticket_avg_resolution_hrs_90d",
]
CATEGORICAL = ["paperless_billing", "plan_stream_tv", "plan_stream_movies", "net_service", "churn_label"]
# The order of snapshot.Month.DriftColumns: the 14 features, then the label.
COLUMNS = [
    "months_active", "monthly_fee", "paperless_billing", "plan_stream_tv",
    "plan_stream_movies", "net_service", "watch_hours_30d", "avg_session_mins_7d",
    "unique_devices_30d", "skips_7d", "rebuffer_events_7d", "failed_payments_90d",
    "support_tickets_90d", "ticket_avg_resolution_hrs_90d", "churn_label",
]

# Each side is a list of slices [month, start, end) concatenated (end None = all rows).
CASES = [
    ("month_000 vs month_001", [["month_000", 0, None]], [["month_001", 0, None]]),
    ("first 500 rows", [["month_000", 0, 500]], [["month_001", 0, 500]]),
    ("400 vs last 543 rows", [["month_000", 0, 400]], [["month_001", 6500, None]]),
    ("1000 reference rows vs full month", [["month_000", 0, 1000]], [["month_001", 0, None]]),
    ("800 reference rows vs both months (asymptotic K-S)", [["month_000", 0, 800]],
     [["month_000", 0, None], ["month_001", 0, None]]),
]


def month(name):
    df = None
    for f in FILES:
        part = pd.read_csv(os.path.join(DATA, name, f + ".csv"))
        df = part if df is None else df.merge(part, on="user_id", how="inner", validate="one_to_one")
    return df


def side(months, spec):
    parts = [months[m].iloc[start:end] for m, start, end in spec]
    return pd.concat(parts, ignore_index=True)[COLUMNS]


def run(ref, cur):
    definition = DataDefinition(numerical_columns=NUMERICAL, categorical_columns=CATEGORICAL)
    snap = Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    d = snap.dict()
    by_id = {}
    out = {"columns": []}
    for m in d["metrics"]:
        cfg = m["config"]
        if cfg["type"].endswith("DriftedColumnsCount"):
            out["drifted_columns"] = int(m["value"]["count"])
            out["drift_share"] = m["value"]["share"]
        elif cfg["type"].endswith("ValueDrift"):
            by_id[m["id"]] = {
                "column": cfg["column"],
                "test": cfg["method"],
                "score": float(m["value"]),
                "stat_threshold": cfg["threshold"],
            }
    for t in d["tests"]:
        mid = t["metric_config"]["metric_id"]
        if mid in by_id:
            by_id[mid]["drifted"] = t["status"] == "FAIL"
    cols = {c["column"]: c for c in by_id.values()}
    out["columns"] = [cols[c] for c in COLUMNS]
    return out


def main():
    if not os.path.isdir(DATA):
        sys.exit(f"no data at {DATA}")
    months = {m: month(m) for m in ("month_000", "month_001")}
    cases = []
    for name, ref_spec, cur_spec in CASES:
        res = run(side(months, ref_spec), side(months, cur_spec))
        cases.append({"name": name, "reference": ref_spec, "current": cur_spec, **res})
    doc = {
        "generator": "internal/drift/testdata/gen_expected.py",
        "versions": {"evidently": evidently.__version__, "scipy": scipy.__version__,
                     "numpy": numpy.__version__, "pandas": pd.__version__},
        "cases": cases,
    }
    with open(os.path.join(HERE, "evidently_expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
