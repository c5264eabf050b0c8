"""PhysioNet/CinC Challenge 2020 metric, as the organisers' final scorer computes it.

Reference: ``evaluate_12ECG_score.py`` in physionetchallenges/evaluation-2020, final version (commit
c700fd8, 19 September 2020; the scoring code of the official results). The 27 x 27 matrix
``data/tables/cinc2020_weights.csv`` (rows and columns SNOMED CT codes, the challenge's
``weights.csv``) gives full credit (1) on the diagonal and between the three equivalent pairs,
partial credit (0.15-0.5) elsewhere. Our label set merges the equivalent codes (24 classes, see
``cinc2020_scored.csv``) as the scorer does, so each class uses the row of its first code; the merged
codes' rows are identical, which :func:`load_weights` checks.

Score: for binary outputs ``p`` and labels ``t`` (n, C), the modified confusion matrix
``A[j, k] = sum_i t[i, j] p[i, k] / max(1, |t_i OR p_i|)`` and ``score = sum(W * A)``, normalised as
``(score(p) - score(all NSR)) / (score(t) - score(all NSR))`` so that always outputting sinus rhythm
(NSR) scores 0 and the labels score 1.

Labels and outputs are scored as given. Versions of the scorer from 24 June to 19 July 2020 first
rewrote them with two normal-class rules (NSR set negative when another class is positive; NSR set
positive when no class is); the organisers removed the first on 10 July ("Allowed non-exclusivity
between normal and abnormal labels and outputs", 8e950a1) and the second on 19 July ("Removed normal
check", 0efd33c), before the official phase was scored. Scores computed with those versions differ
by up to 0.037 on 20 random 500-record sets, on which this function equals the final scorer exactly
(docs/evaluate.md). One deliberate deviation: when the labels and the all-NSR output score the same
(e.g. every record is NSR only) the metric is undefined; the scorer returns 0.0, we return NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

import numpy as np
import pandas as pd

NORMAL_CLASS = "NSR"


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    base = resources.files("threekg.data") / "tables"
    with resources.as_file(base / "cinc2020_weights.csv") as p:
        weights = pd.read_csv(p, index_col=0, dtype={0: str})
    weights.index = weights.index.map(str)
    weights.columns = weights.columns.map(str)
    with resources.as_file(base / "cinc2020_scored.csv") as p:
        scored = pd.read_csv(p, dtype=str)
    return weights, scored


def load_weights(label_names: Sequence[str]) -> np.ndarray:
    """Weight matrix (C, C) float64 for classes named as in ``cinc2020_scored.csv`` ``class``.

    Raises ValueError for a name that is not a scored class, or when the table is not
    symmetric with unit diagonal, or the codes merged into one class have different rows.
    """
    weights, scored = _tables()
    w = weights.to_numpy(dtype=np.float64)
    if list(weights.index) != list(weights.columns) or not np.allclose(w, w.T) or not np.allclose(np.diag(w), 1):
        raise ValueError("cinc2020_weights.csv: not a symmetric matrix with unit diagonal")
    codes: list[str] = []
    for name in label_names:
        members = scored.loc[scored["class"] == name, "snomed"].tolist()
        if not members:
            raise ValueError(f"class {name!r} is not a CinC 2020 scored class (cinc2020_scored.csv)")
        rows = weights.loc[members, members]
        if not np.allclose(rows.to_numpy(), 1.0) or not np.allclose(
            weights.loc[members].to_numpy(), weights.loc[members[0]].to_numpy()[None, :]
        ):
            raise ValueError(f"cinc2020_weights.csv: merged codes {members} of {name!r} differ")
        codes.append(members[0])
    return weights.loc[codes, codes].to_numpy(dtype=np.float64)


def _score(weights: np.ndarray, truth: np.ndarray, pred: np.ndarray) -> float:
    norm = np.maximum((truth | pred).sum(axis=1), 1).astype(np.float64)
    a = truth.T.astype(np.float64) @ (pred.astype(np.float64) / norm[:, None])
    return float((weights * a).sum())


def challenge_metric(
    truth: np.ndarray, pred: np.ndarray, label_names: Sequence[str], weights: np.ndarray | None = None
) -> float:
    """Normalised CinC 2020 challenge score of binary outputs (the final official scorer's).

    ``truth``, ``pred``: (n, C) binary (nonzero = positive), scored as given: no normal-class rule
    rewrites them, and the caller's arrays are not modified. ``label_names`` must contain ``"NSR"``.
    ``weights``: (C, C), default :func:`load_weights` of ``label_names``. 1 for the truth, 0 for
    always outputting NSR alone; NaN when truth and all-NSR score the same.
    """
    names = list(label_names)
    if NORMAL_CLASS not in names:
        raise ValueError(f"the challenge metric needs the class {NORMAL_CLASS!r} in the label set")
    w = load_weights(names) if weights is None else weights
    t = np.asarray(truth) > 0
    p = np.asarray(pred) > 0
    if t.shape != p.shape or t.shape[1] != len(names):
        raise ValueError(f"truth {t.shape} and predictions {p.shape} must be (n, {len(names)})")
    inactive = np.zeros_like(t)
    inactive[:, names.index(NORMAL_CLASS)] = True
    observed, correct, baseline = _score(w, t, p), _score(w, t, t), _score(w, t, inactive)
    if correct == baseline:
        return float("nan")
    return (observed - baseline) / (correct - baseline)
