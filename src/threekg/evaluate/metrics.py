"""Ranking metrics for multi-label scores, pure numpy, vectorised across classes.

Shapes: ``y`` (n_records, n_classes) in {0, 1}; ``s`` (n_records, n_classes) real scores
(probabilities or logits; only their order matters). A 1-D ``y``/``s`` is one class.

* :func:`auroc` - area under the ROC curve from average ranks (ties count one half), equal to
  ``sklearn.metrics.roc_auc_score`` per column.
* :func:`auprc` - average precision (step-wise, no interpolation), equal to
  ``sklearn.metrics.average_precision_score`` per column.
* :func:`evaluable_classes` - which classes have both a positive and a negative, and why the
  others are dropped; :func:`macro` averages over the evaluable ones only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _as_2d(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    y = np.asarray(y)
    s = np.asarray(s, dtype=np.float64)
    squeeze = y.ndim == 1
    if squeeze:
        y, s = y[:, None], s[:, None]
    if y.shape != s.shape or y.ndim != 2:
        raise ValueError(f"labels {y.shape} and scores {s.shape} must have the same (n, classes) shape")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    return (y > 0).astype(np.float64), s, squeeze


def _tie_bounds(sorted_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For columns sorted along axis 0: index of the first and last member of each entry's tie group."""
    n = sorted_s.shape[0]
    idx = np.arange(n)[:, None]
    new_group = np.ones_like(sorted_s, dtype=bool)
    new_group[1:] = sorted_s[1:] != sorted_s[:-1]
    end_group = np.ones_like(sorted_s, dtype=bool)
    end_group[:-1] = new_group[1:]
    start = np.maximum.accumulate(np.where(new_group, idx, 0), axis=0)
    end = np.minimum.accumulate(np.where(end_group, idx, n - 1)[::-1], axis=0)[::-1]
    return start, end


def average_ranks(s: np.ndarray) -> np.ndarray:
    """Ranks 1..n along axis 0 of ``s`` (n, classes), ties given their average rank."""
    s = np.asarray(s, dtype=np.float64)
    order = np.argsort(s, axis=0, kind="mergesort")
    sorted_s = np.take_along_axis(s, order, axis=0)
    start, end = _tie_bounds(sorted_s)
    ranks = np.empty_like(s)
    np.put_along_axis(ranks, order, (start + end) / 2.0 + 1.0, axis=0)
    return ranks


def auroc(y: np.ndarray, s: np.ndarray) -> np.ndarray | float:
    """AUROC per class (Mann-Whitney U / (n_pos n_neg)); NaN where a class lacks positives or negatives.

    ``y``, ``s``: (n, classes) or (n,). Returns (classes,) float64 or a float for 1-D input.
    """
    y, s, squeeze = _as_2d(y, s)
    n_pos = y.sum(axis=0)
    n_neg = y.shape[0] - n_pos
    rank_sum = (average_ranks(s) * y).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    auc = np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)
    return float(auc[0]) if squeeze else auc


def auprc(y: np.ndarray, s: np.ndarray) -> np.ndarray | float:
    """Average precision per class: sum over thresholds of (R_k - R_{k-1}) P_k; NaN without positives.

    Thresholds are the distinct scores (tied records enter together), as in scikit-learn.
    ``y``, ``s``: (n, classes) or (n,). Returns (classes,) float64 or a float for 1-D input.
    """
    y, s, squeeze = _as_2d(y, s)
    order = np.argsort(-s, axis=0, kind="mergesort")
    ys = np.take_along_axis(y, order, axis=0)
    _, end = _tie_bounds(np.take_along_axis(-s, order, axis=0))
    tp = np.cumsum(ys, axis=0)
    tp_at_end = np.take_along_axis(tp, end, axis=0)
    precision_at_end = tp_at_end / (end + 1.0)
    n_pos = y.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = (ys * precision_at_end).sum(axis=0) / n_pos
    ap = np.where(n_pos > 0, ap, np.nan)
    return float(ap[0]) if squeeze else ap


def evaluable_classes(y: np.ndarray, names: Sequence[str]) -> tuple[np.ndarray, dict[str, str]]:
    """Mask of classes with at least one positive and one negative in ``y`` (n, classes).

    Returns ``(keep (classes,) bool, dropped {name: reason})`` with reasons
    ``"no positive in test"`` / ``"no negative in test"``.
    """
    y = np.asarray(y) > 0
    if y.shape[1] != len(names):
        raise ValueError(f"labels have {y.shape[1]} classes but {len(names)} names were given")
    n_pos = y.sum(axis=0)
    dropped: dict[str, str] = {}
    for name, p in zip(names, n_pos, strict=True):
        if p == 0:
            dropped[str(name)] = "no positive in test"
        elif p == y.shape[0]:
            dropped[str(name)] = "no negative in test"
    keep = (n_pos > 0) & (n_pos < y.shape[0])
    return keep, dropped


def macro(values: np.ndarray, keep: np.ndarray) -> float:
    """Mean of ``values`` (classes,) over the ``keep`` mask; NaN when nothing is kept."""
    values = np.asarray(values, dtype=np.float64)
    return float(values[keep].mean()) if keep.any() else float("nan")
