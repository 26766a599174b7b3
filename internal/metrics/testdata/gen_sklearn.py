#!/usr/bin/python3
"""Generate sklearn_cases.json: fixed inputs and the metrics scikit-learn
computes on them. Run once from this directory with Debian's python3-sklearn
(1.2.1): /usr/bin/python3 gen_sklearn.py > sklearn_cases.json

The Go tests compare internal/metrics against these values to 1e-9.
"""
import json

import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, f1_score, log_loss,
                             precision_score, recall_score, roc_auc_score)

rng = np.random.default_rng(20240131)


def case(name, labels, scores, threshold=0.5):
    y = np.asarray(labels, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    pred = (s >= threshold).astype(np.float64)
    return {
        "name": name,
        "labels": y.tolist(),
        "scores": s.tolist(),
        "threshold": threshold,
        "auc": float(roc_auc_score(y, s)),
        "logloss": float(log_loss(y, s)),
        "accuracy": float(accuracy_score(y, pred)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "f1": float(f1_score(y, pred, zero_division=0)),
    }


cases = [
    case("textbook", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]),
    case("all tied", [0, 1, 0, 1, 1], [0.5] * 5),
    case("perfect", [0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.7, 0.9]),
    case("reversed", [1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]),
    case("extremes clipped", [0, 1, 1, 0, 1, 0], [0.0, 1.0, 0.0, 1.0, 0.6, 0.3]),
    case("nothing predicted positive", [0, 1, 0, 1, 0], [0.1, 0.2, 0.3, 0.4, 0.2]),
    case("threshold 0.3", [0, 1, 0, 1, 0, 1], [0.1, 0.3, 0.3, 0.25, 0.6, 0.9], threshold=0.3),
]

# Heavy ties: 2,000 scores on an 11-value grid, labels correlated with them.
n = 2000
grid = np.round(rng.uniform(0, 1, n) * 10) / 10
labels = (rng.uniform(0, 1, n) < 0.2 + 0.6 * grid).astype(int)
cases.append(case("heavy ties grid", labels, grid))

# Continuous scores with a class imbalance like churn (~26% positives).
n = 1500
z = rng.normal(0, 1, n)
labels = (rng.uniform(0, 1, n) < 1 / (1 + np.exp(-(z * 1.5 - 1.2)))).astype(int)
scores = 1 / (1 + np.exp(-(z + rng.normal(0, 0.8, n))))
cases.append(case("continuous imbalanced", labels, scores))

# Three distinct score values only, many of each, plus exact 0.5 scores.
n = 600
scores = rng.choice([0.2, 0.5, 0.8], size=n)
labels = (rng.uniform(0, 1, n) < scores).astype(int)
cases.append(case("three levels", labels, scores))

# One case per line keeps diffs readable.
print('{"sklearn_version": %s, "cases": [' % json.dumps(sklearn.__version__))
print(",\n".join(json.dumps(c) for c in cases))
print("]}")
