"""Linear multi-label probe: one-vs-rest L2 logistic regression, all classes and strengths at once.

Embeddings are standardised with the mean and standard deviation of the labelled training
subset. For every L2 strength ``lam`` of the grid and every class c the probe minimises

    mean_i BCE(sigmoid(x_i . w_c + b_c), y_ic) + lam / 2 * ||w_c||^2

(bias not penalised) - the same objective as scikit-learn's ``LogisticRegression(C=1 / (lam n))``.
The G x C problems are solved together to convergence by :func:`threekg.evaluate.logistic.fit_logistic_many`
(preconditioned per-problem L-BFGS sharing its matrix products). The strength with the best macro
AUROC on the validation split is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np

from threekg.evaluate.logistic import LogisticFit, fit_logistic_many
from threekg.evaluate.metrics import auroc, evaluable_classes, macro

DEFAULT_L2_GRID: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)

PROBE_REVISION = 2
"""Revision of the probe's results. 2 (2026-11-24): solved to convergence (revision 1 stopped every fit
at 200 L-BFGS-B iterations). ``threekg experiment`` re-runs evaluations made by an older revision."""


@dataclass
class ProbeResult:
    """Fitted probe. ``weight`` (D, C) and ``bias`` (C,) act on standardised embeddings."""

    l2: float
    val_macro_auroc: float
    val_by_l2: dict[float, float]
    mean: np.ndarray
    std: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    n_iter: int = 0
    """Most solver iterations any class took at the chosen strength."""
    unconverged: int = 0
    """Classes whose fit at the chosen strength stopped at the iteration limit."""

    def predict_proba(self, z: np.ndarray) -> np.ndarray:
        """(N, C) probabilities for embeddings ``z`` (N, D)."""
        logits = ((z - self.mean) / self.std) @ self.weight + self.bias
        return 1.0 / (1.0 + np.exp(-logits))


SMALL_PROBLEM = 50_000_000
"""Below this many multiply-adds per product (n x rank x problems), BLAS runs on one thread: for small
matrices thread hand-offs cost more than they save (12x slower on a busy 2-core machine)."""


def _blas_threads(work: int) -> AbstractContextManager[object]:
    if work >= SMALL_PROBLEM:
        return nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return nullcontext()
    return threadpool_limits(1)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2_grid: Sequence[float], max_iter: int = 1000) -> LogisticFit:
    """All (L2 strength, class) problems on standardised ``x`` (n, D) with labels ``y`` (n, C), jointly.

    Returns the :class:`LogisticFit` of G x C problems, problem ``g * C + c`` being strength
    ``l2_grid[g]`` and class c (see :mod:`threekg.evaluate.logistic`).
    """
    yd = np.asarray(y, dtype=np.float64)
    n, d = x.shape
    g, c = len(l2_grid), yd.shape[1]
    lam = np.repeat(np.asarray(l2_grid, dtype=np.float64), c)
    with _blas_threads(n * min(n, d) * g * c):
        return fit_logistic_many(x, np.tile(yd, (1, g)), lam, max_iter=max_iter)


def fit_probe(z_train: np.ndarray, y_train: np.ndarray, z_val: np.ndarray, y_val: np.ndarray,
              l2_grid: Sequence[float] = DEFAULT_L2_GRID, max_iter: int = 1000) -> ProbeResult:
    """Fit the probe on (``z_train`` (n, D), ``y_train`` (n, C)) and pick the L2 strength on validation."""
    mean = z_train.mean(axis=0)
    std = z_train.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    fit = fit_logistic((z_train - mean) / std, y_train, l2_grid, max_iter=max_iter)
    n_classes = y_train.shape[1]
    w = fit.weight.reshape(-1, len(l2_grid), n_classes).transpose(1, 0, 2)  # (G, D, C)
    b = fit.bias.reshape(len(l2_grid), n_classes)
    xv = (z_val - mean) / std
    keep, _ = evaluable_classes(y_val, [str(i) for i in range(y_val.shape[1])])
    scores = {float(lam): macro(np.asarray(auroc(y_val, xv @ w[k] + b[k])), keep)
              for k, lam in enumerate(l2_grid)}
    finite = {k: v for k, v in scores.items() if np.isfinite(v)}
    best = max(finite, key=lambda lam: finite[lam]) if finite else float(l2_grid[len(l2_grid) // 2])
    k = list(map(float, l2_grid)).index(best)
    sel = slice(k * n_classes, (k + 1) * n_classes)
    return ProbeResult(best, scores[best], scores, mean, std, w[k], b[k], n_iter=int(fit.n_iter[sel].max()),
                       unconverged=int((~fit.converged[sel]).sum()))
