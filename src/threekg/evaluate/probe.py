"""Linear multi-label probe: one-vs-rest L2 logistic regression, all classes and strengths at once.

Embeddings are standardised with the mean and standard deviation of the labelled training
subset. For every L2 strength ``lam`` of the grid and every class c the probe minimises

    mean_i BCE(sigmoid(x_i . w_c + b_c), y_ic) + lam / 2 * ||w_c||^2

(bias not penalised) - the same objective as scikit-learn's ``LogisticRegression(C=1 / (lam n))``.
The problems are independent, so the sum over (grid, class) is minimised jointly with full-batch
L-BFGS(-B, SciPy) in float64. The strength with the best macro AUROC on the validation split is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.special

from threekg.evaluate.metrics import auroc, evaluable_classes, macro

DEFAULT_L2_GRID: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


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

    def predict_proba(self, z: np.ndarray) -> np.ndarray:
        """(N, C) probabilities for embeddings ``z`` (N, D)."""
        logits = ((z - self.mean) / self.std) @ self.weight + self.bias
        return 1.0 / (1.0 + np.exp(-logits))


MAXCOR = 20
"""L-BFGS memory (stored corrections); its bookkeeping costs O(MAXCOR x parameters) per call."""

SMALL_PROBLEM = 50_000_000
"""Below this many multiply-adds per evaluation (n x D x G x C), BLAS runs on one thread: for small
matrices thread hand-offs cost more than they save (12x slower on a busy 2-core machine)."""


def _blas_threads(work: int) -> AbstractContextManager[object]:
    if work >= SMALL_PROBLEM:
        return nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return nullcontext()
    return threadpool_limits(1)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2_grid: Sequence[float], max_iter: int = 200,
                 tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Weights (G, D, C) and biases (G, C) of L2 logistic regressions on standardised ``x`` (n, D).

    All G x C problems share one matrix product ``x @ W`` with W (D, G * C) per evaluation and are
    minimised jointly with SciPy's L-BFGS-B (float64 state, float32 matrix products). (Torch's L-BFGS spent most of its time
    in thread hand-offs for its many tiny vector operations: 4 ms per dot product on a busy 2-core CPU.)
    """
    # The two large products (n x D x G*C each) run in float32, as BLAS is twice as fast there; the
    # optimiser's state, the loss sum and the small vectors stay in float64.
    xf = np.ascontiguousarray(x, dtype=np.float32)
    yd = np.asarray(y, dtype=np.float64)
    n, d = xf.shape
    g, c = len(l2_grid), yd.shape[1]
    lam = np.repeat(np.asarray(l2_grid, dtype=np.float64), c)[None, :]  # (1, G*C)
    target = np.tile(yd, (1, g)).astype(np.float32)  # (n, G*C)
    prior = np.clip(yd.mean(0), 1e-4, 1 - 1e-4)
    b0 = np.tile(np.log(prior / (1 - prior)), g)
    theta0 = np.concatenate([np.zeros(d * g * c), b0])

    def loss_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[: d * g * c].reshape(d, g * c)
        b = theta[d * g * c:]
        logits = xf @ w.astype(np.float32) + b.astype(np.float32)
        # BCE with logits, stable: log(1 + e^z) - y z
        bce = float((np.logaddexp(0.0, logits) - target * logits).sum(dtype=np.float64)) / n
        resid = (scipy.special.expit(logits) - target) / np.float32(n)  # (n, G*C)
        grad_w = (xf.T @ resid).astype(np.float64) + lam * w
        grad_b = resid.sum(axis=0, dtype=np.float64)
        loss = bce + 0.5 * float((lam * w * w).sum())
        return loss, np.concatenate([grad_w.ravel(), grad_b])

    with _blas_threads(n * d * g * c):
        res = scipy.optimize.minimize(loss_and_grad, theta0, jac=True, method="L-BFGS-B",
                                      options={"maxiter": max_iter, "gtol": tol, "maxcor": MAXCOR})
    theta = res.x
    weight = theta[: d * g * c].reshape(d, g, c).transpose(1, 0, 2)
    return weight, theta[d * g * c:].reshape(g, c)


def fit_probe(z_train: np.ndarray, y_train: np.ndarray, z_val: np.ndarray, y_val: np.ndarray,
              l2_grid: Sequence[float] = DEFAULT_L2_GRID, max_iter: int = 200) -> ProbeResult:
    """Fit the probe on (``z_train`` (n, D), ``y_train`` (n, C)) and pick the L2 strength on validation."""
    mean = z_train.mean(axis=0)
    std = z_train.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    w, b = fit_logistic((z_train - mean) / std, y_train, l2_grid, max_iter=max_iter)
    xv = (z_val - mean) / std
    keep, _ = evaluable_classes(y_val, [str(i) for i in range(y_val.shape[1])])
    scores = {float(lam): macro(np.asarray(auroc(y_val, xv @ w[k] + b[k])), keep)
              for k, lam in enumerate(l2_grid)}
    finite = {k: v for k, v in scores.items() if np.isfinite(v)}
    best = max(finite, key=lambda lam: finite[lam]) if finite else float(l2_grid[len(l2_grid) // 2])
    k = list(map(float, l2_grid)).index(best)
    return ProbeResult(best, scores[best], scores, mean, std, w[k], b[k])
