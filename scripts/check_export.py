"""Cross-check churnops' XGBoost export against XGBoost itself.

Usage: check_export.py MODEL.json MONTH_DIR EXPLAINED.csv [MONTH_DIR EXPLAINED.csv ...]

MODEL.json is `churnops model export --format xgboost-json`; each
EXPLAINED.csv is `churnops model explain` of MONTH_DIR with the same model
version (user_id, churn_probability, log_odds, one contribution column per
feature, bias). For every customer of every month, the month's six CSVs are
loaded the way a pandas user would (see month_frame: the recipe README.md
documents) and scored with xgboost.Booster: the probabilities and
pred_contribs must equal churnops' to TOL (1e-6). Exits 1 on a mismatch.
Test tooling only: never a runtime dependency of churnops.
"""

import os
import sys

import numpy as np
import pandas as pd
import xgboost as xgb

TOL = 1e-6
FILES = ["users.csv", "subscriptions.csv", "usage_agg_30d.csv",
         "payments_agg_90d.csv", "support_agg_90d.csv", "labels.csv"]


def month_frame(month_dir, booster):
    """The month's customers as a DataFrame XGBoost scores: the six CSVs
    joined on user_id, booleans as 0/1 with NaN for missing, categorical
    features as pandas' category dtype, columns in the model's order."""
    df = None
    for name in FILES:
        part = pd.read_csv(os.path.join(month_dir, name))
        df = part if df is None else df.merge(part, on="user_id", how="left", validate="one_to_one")
    df = df.set_index("user_id")
    for name, kind in zip(booster.feature_names, booster.feature_types):
        col = df[name]
        if kind == "c":
            df[name] = col.astype("category")
        elif not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            # True/False with blanks for missing: 1.0/0.0/NaN.
            df[name] = col.map({True: 1.0, False: 0.0}).astype("float64")
    return df[booster.feature_names]


def check(booster, month_dir, explained):
    ours = pd.read_csv(explained, index_col="user_id")
    X = month_frame(month_dir, booster)
    if list(X.index) != list(ours.index):
        raise SystemExit(f"{explained}: customers differ from {month_dir}")
    dm = xgb.DMatrix(X, enable_categorical=True)
    prob = booster.predict(dm)
    margin = booster.predict(dm, output_margin=True)
    contrib = booster.predict(dm, pred_contribs=True)
    cols = list(booster.feature_names) + ["bias"]
    theirs = pd.DataFrame(contrib, index=X.index, columns=cols)
    d_prob = np.abs(prob - ours["churn_probability"].to_numpy())
    d_margin = np.abs(margin - ours["log_odds"].to_numpy())
    d_contrib = np.abs(theirs[cols].to_numpy() - ours[cols].to_numpy())
    worst = d_contrib.max(axis=0)
    print(f"{os.path.basename(os.path.normpath(month_dir))}: {len(X)} customers, "
          f"max |dprob| = {d_prob.max():.3g}, max |dlog_odds| = {d_margin.max():.3g}, "
          f"max |dcontribution| = {worst.max():.3g} ({cols[int(worst.argmax())]}), "
          f"max |dbias| = {worst[-1]:.3g}")
    ok = d_prob.max() <= TOL and worst.max() <= TOL
    if not ok:
        i = int(np.argmax(d_contrib.max(axis=1)))
        print(f"  worst customer {X.index[i]}:\n{pd.DataFrame({'churnops': ours[cols].iloc[i], 'xgboost': theirs[cols].iloc[i]})}")
    return ok


def main(argv):
    if len(argv) < 3 or len(argv) % 2 == 0:
        raise SystemExit(__doc__)
    booster = xgb.Booster(model_file=argv[0])
    print(f"xgboost {xgb.__version__}, pandas {pd.__version__}: {argv[0]} has "
          f"{booster.num_boosted_rounds()} trees, features {booster.num_features()}")
    ok = True
    for month_dir, explained in zip(argv[1::2], argv[2::2]):
        ok = check(booster, month_dir, explained) and ok
    if not ok:
        print(f"FAIL: XGBoost differs from churnops by more than {TOL}")
        return 1
    print(f"ok: XGBoost's probabilities and pred_contribs equal churnops' to {TOL}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
