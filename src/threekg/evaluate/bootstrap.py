"""Bootstrap confidence intervals for macro AUROC, vectorised over resamples.

A resample draws n test records with replacement; it is represented by the multiplicity of
each record (``counts`` (n_boot, n)), so the AUROC of a resample is a weighted Mann-Whitney
statistic computed from ONE sort of the original scores per class: no re-sorting per resample.
Resamples in which a kept class (one with positives and negatives in the full test set) has
no positive or no negative are redrawn, so every resample scores every kept class.

The same ``counts`` serve two encoders in :func:`paired_bootstrap`, which makes the CI of
their difference paired (the record-sampling noise common to both cancels).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from threekg.evaluate.metrics import auroc, evaluable_classes, macro


def draw_counts(
    y: np.ndarray, keep: np.ndarray, n_boot: int, seed: int, max_rounds: int = 1000
) -> np.ndarray:
    """Multiplicities (n_boot, n) int32 of bootstrap resamples of the n rows of ``y`` (n, classes).

    Every resample has at least one positive and one negative for each ``keep`` class;
    failing resamples are redrawn (RuntimeError after ``max_rounds`` rounds, e.g. a class
    with a single positive in a huge test set).
    """
    y = (np.asarray(y) > 0)[:, keep].astype(np.float64)
    n = y.shape[0]
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_boot, n), dtype=np.int32)
    todo = np.arange(n_boot)
    for _ in range(max_rounds):
        if todo.size == 0:
            return counts
        idx = rng.integers(0, n, size=(todo.size, n))
        flat = (idx + (np.arange(todo.size) * n)[:, None]).ravel()
        c = np.bincount(flat, minlength=todo.size * n).reshape(todo.size, n).astype(np.int32)
        pos = c @ y
        ok = ((pos > 0) & (pos < n)).all(axis=1)
        counts[todo[ok]] = c[ok]
        todo = todo[~ok]
    raise RuntimeError(f"could not draw {todo.size} bootstrap resamples with a positive and a negative "
                       f"for every kept class after {max_rounds} rounds")


def weighted_auroc(y: np.ndarray, s: np.ndarray, counts: np.ndarray, chunk: int = 250) -> np.ndarray:
    """AUROC of each resample for each class: (n_boot, classes) float64.

    ``y``, ``s``: (n, classes); ``counts``: (n_boot, n) record multiplicities. Equals
    :func:`threekg.evaluate.metrics.auroc` on the explicitly resampled rows (ties count one half):
    each positive copy earns the weighted number of negatives scored below it plus half of
    those tied with it, read from a cumulative sum over the negatives sorted once per class.
    """
    y = np.asarray(y) > 0
    s = np.asarray(s, dtype=np.float64)
    n_boot = counts.shape[0]
    out = np.empty((n_boot, y.shape[1]))
    for c in range(y.shape[1]):
        neg = np.flatnonzero(~y[:, c])
        pos = np.flatnonzero(y[:, c])
        neg = neg[np.argsort(s[neg, c], kind="mergesort")]
        sorted_neg = s[neg, c]
        lo = np.searchsorted(sorted_neg, s[pos, c], "left")
        hi = np.searchsorted(sorted_neg, s[pos, c], "right")
        for b0 in range(0, n_boot, chunk):
            cb = counts[b0 : b0 + chunk]
            cum = np.zeros((cb.shape[0], neg.size + 1), dtype=np.int64)
            np.cumsum(cb[:, neg], axis=1, out=cum[:, 1:])
            twice_credit = cum[:, lo] + cum[:, hi]
            wp = cb[:, pos]
            num = 0.5 * (wp * twice_credit).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[b0 : b0 + chunk, c] = num / (wp.sum(axis=1) * cum[:, -1].astype(np.float64))
    return out


def bootstrap_ci(
    y: np.ndarray,
    s: np.ndarray,
    n: int = 1000,
    seed: int = 0,
    names: Sequence[str] | None = None,
    level: float = 0.95,
) -> dict[str, float]:
    """Percentile bootstrap CI of the macro AUROC over the classes evaluable in ``y``.

    ``y``, ``s``: (n_records, classes). Returns ``{"point", "ci_low", "ci_high", "n_boot"}``;
    the point estimate is the macro AUROC of the full test set.
    """
    y = np.asarray(y)
    names = list(names) if names is not None else [str(i) for i in range(y.shape[1])]
    keep, _ = evaluable_classes(y, names)
    point = macro(np.asarray(auroc(y, s)), keep)
    if n <= 0 or not keep.any():
        return {"point": point, "ci_low": float("nan"), "ci_high": float("nan"), "n_boot": 0}
    counts = draw_counts(y, keep, n, seed)
    per = weighted_auroc(y[:, keep], np.asarray(s)[:, keep], counts)
    macros = per.mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(macros, [alpha, 1.0 - alpha])
    return {"point": point, "ci_low": float(low), "ci_high": float(high), "n_boot": int(n)}


def paired_bootstrap(
    y: np.ndarray,
    s_a: np.ndarray,
    s_b: np.ndarray,
    n: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, float]:
    """CI of macro AUROC(a) - macro AUROC(b) on the same resamples of the test records.

    ``y``, ``s_a``, ``s_b``: (n_records, classes). Returns ``{"diff", "ci_low", "ci_high",
    "p_le_0"}`` where ``p_le_0`` is the fraction of resamples with a difference <= 0
    (a one-sided bootstrap p-value for "a is better than b").
    """
    y = np.asarray(y)
    keep, _ = evaluable_classes(y, [str(i) for i in range(y.shape[1])])
    diff = macro(np.asarray(auroc(y, s_a)), keep) - macro(np.asarray(auroc(y, s_b)), keep)
    if n <= 0 or not keep.any():
        return {"diff": diff, "ci_low": float("nan"), "ci_high": float("nan"), "p_le_0": float("nan")}
    counts = draw_counts(y, keep, n, seed)
    yk = y[:, keep]
    d = (weighted_auroc(yk, np.asarray(s_a)[:, keep], counts).mean(axis=1)
         - weighted_auroc(yk, np.asarray(s_b)[:, keep], counts).mean(axis=1))
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(d, [alpha, 1.0 - alpha])
    return {"diff": diff, "ci_low": float(low), "ci_high": float(high), "p_le_0": float((d <= 0).mean())}
