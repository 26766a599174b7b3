"""Peers for bench/compare (run by main.go with the venv of venv.sh, not by hand).

    python compare.py DIR REPS THREADS MODEL[,MODEL...]

DIR holds train.f64 and val.f64 (written by main.go): row-major little-endian
float64, 15 columns, the 14 churnops features as churnops encodes them (NaN =
missing, booleans 0/1, net_service as its category index 0=DSL 1=Fiber
optic 2=No) then the label, for the same train and validation users
churnops used. Models:

  hgb            scikit-learn HistGradientBoostingClassifier, defaults
                 (100 iterations, 31 leaves, lr 0.1, early stopping on 10%
                 of the rows above 10,000), class_weight="balanced",
                 net_service declared categorical;
  xgboost        tree_method=hist, 300 rounds, max_depth 4, lr 0.05,
                 scale_pos_weight = negatives/positives ("balanced");
  lightgbm       31 leaves, 300 rounds, lr 0.1 (defaults otherwise),
                 scale_pos_weight as XGBoost, net_service categorical;
  random_forest  scikit-learn RandomForestClassifier(n_estimators=300,
                 class_weight="balanced", max_features="sqrt"); it rejects
                 NaN in old versions, so missing is imputed with -1 (a value
                 no present boolean takes).

XGBoost and the forest get net_service one-hot (the usual practice for a
3-category nominal feature). Every model runs on THREADS threads (n_jobs,
nthread, num_threads; OMP_NUM_THREADS is set by main.go as well, which is
what HistGradientBoosting reads). Each model is fitted REPS times (the
forest once: it is slow and only a reference); one JSON line per model gives
every fit's wall time and CPU time (fit only, all threads), sklearn's roc_auc_score and the version,
and the validation scores go to DIR/<model>_scores.f64 so main.go scores
every model with the same Go metric code.
"""
import json
import sys
import time
import warnings

import numpy as np

NET = 5  # column of net_service in churnops' feature order
NFEAT = 14


def load(path):
    raw = np.fromfile(path, dtype="<f8").reshape(-1, NFEAT + 1)
    return raw[:, :NFEAT], raw[:, NFEAT]


def onehot(X):
    oh = np.zeros((len(X), 3))
    oh[np.arange(len(X)), X[:, NET].astype(int)] = 1.0
    return np.hstack([np.delete(X, NET, axis=1), oh])


def make(name, threads, spw):
    if name == "hgb":
        import sklearn
        from sklearn.ensemble import HistGradientBoostingClassifier
        cat = np.zeros(NFEAT, dtype=bool)
        cat[NET] = True
        return sklearn.__version__, HistGradientBoostingClassifier(
            class_weight="balanced", categorical_features=cat, random_state=0), None
    if name == "xgboost":
        import xgboost as xgb
        return xgb.__version__, xgb.XGBClassifier(
            tree_method="hist", n_estimators=300, max_depth=4, learning_rate=0.05,
            scale_pos_weight=spw, n_jobs=threads, random_state=0), onehot
    if name == "lightgbm":
        import lightgbm as lgb
        return lgb.__version__, lgb.LGBMClassifier(
            num_leaves=31, n_estimators=300, learning_rate=0.1, scale_pos_weight=spw,
            n_jobs=threads, random_state=0, verbose=-1), None
    if name == "random_forest":
        import sklearn
        from sklearn.ensemble import RandomForestClassifier
        return sklearn.__version__, RandomForestClassifier(
            n_estimators=300, class_weight="balanced", max_features="sqrt",
            random_state=42, n_jobs=threads), lambda X: np.nan_to_num(onehot(X), nan=-1.0)
    raise SystemExit(f"unknown model {name}")


def main():
    # LightGBM names the columns of a NumPy array it is fitted on, then
    # warns that the validation array has no names: noise.
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    d, reps, threads, names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(",")
    from sklearn.metrics import roc_auc_score
    Xtr, ytr = load(d + "/train.f64")
    Xva, yva = load(d + "/val.f64")
    pos = ytr.sum()
    spw = (len(ytr) - pos) / pos
    for name in names:
        version, model, prep = make(name, threads, spw)
        Xa, Xb = (prep(Xtr), prep(Xva)) if prep else (Xtr, Xva)
        kw = {"categorical_feature": [NET]} if name == "lightgbm" else {}
        times, cpu = [], []
        for _ in range(reps if name != "random_forest" else 1):
            t0, c0 = time.perf_counter(), time.process_time()
            model.fit(Xa, ytr, **kw)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        scores = model.predict_proba(Xb)[:, 1]
        scores.astype("<f8").tofile(f"{d}/{name}_scores.f64")
        print(json.dumps({"model": name, "fit_s": times, "cpu_s": cpu, "sklearn_auc": roc_auc_score(yva, scores),
                          "version": version, "threads": threads}), flush=True)


if __name__ == "__main__":
    main()
