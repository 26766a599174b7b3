#!/usr/bin/python3
"""Baselines for bench/compare (run by main.go, not by hand).

Reads train.csv and val.csv from the directory given as argv[1]: the 14
churnops features as churnops encodes them (empty = missing, booleans 0/1,
net_service as its category index 0=DSL 1=Fiber optic 2=No) plus "label",
for the same train and validation users churnops used. Fits

  * XGBoost: tree_method=hist, 300 rounds, max_depth 4, learning_rate 0.05,
    scale_pos_weight = negatives/positives ("balanced"), nthread=1;
    missing values left as NaN (XGBoost learns a default direction);
  * scikit-learn RandomForestClassifier(n_estimators=300,
    class_weight="balanced", max_features="sqrt", random_state=42, n_jobs=1);
    scikit-learn 1.2's forests reject NaN, so missing values (only the
    plan_stream_* booleans, missing = no internet service) are imputed
    with -1, a value no present boolean takes, so "missing" stays its own
    group;

net_service is one-hot encoded for both (the usual practice for a
3-category nominal feature). Prints one JSON line per model with the fit
wall time (seconds, fit only; for XGBoost the median of argv[2] fits) and
sklearn's roc_auc_score, and writes the
validation scores to <model>_scores.csv so main.go scores every model with
the same Go metric code.
"""
import json
import sys
import time

import numpy as np
import sklearn
import xgboost as xgb
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score

NET = 5  # column of net_service in churnops' feature order


def load(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
    raw = np.genfromtxt(path, delimiter=",", skip_header=1, missing_values="", filling_values=np.nan)
    X, y = raw[:, :-1], raw[:, -1]
    assert header[-1] == "label" and header[NET] == "net_service", header
    onehot = np.zeros((len(X), 3))
    onehot[np.arange(len(X)), X[:, NET].astype(int)] = 1.0
    X = np.hstack([np.delete(X, NET, axis=1), onehot])
    return X, y


def main():
    d = sys.argv[1]
    Xtr, ytr = load(d + "/train.csv")
    Xva, yva = load(d + "/val.csv")
    pos = ytr.sum()
    spw = (len(ytr) - pos) / pos

    models = {
        "xgboost": xgb.XGBClassifier(
            tree_method="hist", n_estimators=300, max_depth=4, learning_rate=0.05,
            scale_pos_weight=spw, nthread=1, n_jobs=1, random_state=0),
        "random_forest": RandomForestClassifier(
            n_estimators=300, class_weight="balanced", max_features="sqrt",
            random_state=42, n_jobs=1),
    }
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    for name, model in models.items():
        Xa, Xb = Xtr, Xva
        if name == "random_forest":
            Xa, Xb = np.nan_to_num(Xtr, nan=-1.0), np.nan_to_num(Xva, nan=-1.0)
        # The machine may be shared: fit XGBoost reps times and report the
        # median (the fits are deterministic). The forest is fitted once:
        # it is an order of magnitude slower and not close to the bar.
        times = []
        for _ in range(reps if name == "xgboost" else 1):
            t0 = time.perf_counter()
            model.fit(Xa, ytr)
            times.append(time.perf_counter() - t0)
        fit_s = float(np.median(times))
        scores = model.predict_proba(Xb)[:, 1]
        np.savetxt(f"{d}/{name}_scores.csv", scores, fmt="%.17g")
        print(json.dumps({
            "model": name, "fit_s": fit_s, "fits": len(times), "sklearn_auc": roc_auc_score(yva, scores),
            "version": xgb.__version__ if name == "xgboost" else sklearn.__version__,
        }), flush=True)


if __name__ == "__main__":
    main()
