"""Linear multi-label probe: one-vs-rest L2 logistic regression, all classes and strengths at once.

Embeddings are standardised with the mean and standard deviation of the labelled training
subset. For every L2 strength ``lam`` of the grid and every class c the probe minimises

    mean_i BCE(sigmoid(x_i . w_c + b_c), y_ic) + lam / 2 * ||w_c||^2

(bias not penalised) - the same objective as scikit-learn's ``LogisticRegression(C=1 / (lam n))``.
The problems are independent, so the sum over (grid, class) is minimised jointly with full-batch
L-BFGS in float32. The strength with the best macro AUROC on the validation split is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

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


def fit_logistic(x: np.ndarray, y: np.ndarray, l2_grid: Sequence[float], max_iter: int = 100,
                 tol: float = 1e-5, dtype: torch.dtype = torch.float32) -> tuple[np.ndarray, np.ndarray]:
    """Weights (G, D, C) and biases (G, C) of L2 logistic regressions on standardised ``x`` (n, D).

    All G x C problems share one matrix product ``x @ W`` with W (D, G * C) per evaluation.
    """
    xt = torch.from_numpy(np.asarray(x)).to(dtype)
    yt = torch.from_numpy(np.asarray(y)).to(dtype)
    g, d, c = len(l2_grid), xt.shape[1], yt.shape[1]
    lam = torch.tensor(list(l2_grid), dtype=dtype).repeat_interleave(c)[None, :]  # (1, G*C)
    w = torch.zeros(d, g * c, dtype=dtype, requires_grad=True)
    prior = yt.mean(0).clamp(1e-4, 1 - 1e-4)
    b = torch.log(prior / (1 - prior)).repeat(g).clone().requires_grad_(True)
    target = yt.repeat(1, g)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, tolerance_grad=tol, tolerance_change=1e-10,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        logits = xt @ w + b
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="sum") / xt.shape[0]
        loss = bce + 0.5 * (lam * w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    weight = w.detach().double().numpy().reshape(d, g, c).transpose(1, 0, 2)
    return weight, b.detach().double().numpy().reshape(g, c)


def fit_probe(z_train: np.ndarray, y_train: np.ndarray, z_val: np.ndarray, y_val: np.ndarray,
              l2_grid: Sequence[float] = DEFAULT_L2_GRID, max_iter: int = 100) -> ProbeResult:
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
