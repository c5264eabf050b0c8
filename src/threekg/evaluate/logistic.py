"""Many independent L2 logistic regressions on one design matrix, solved together to convergence.

Problem k (one class and one L2 strength ``lam_k``) minimises

    f_k(w, b) = mean_i [log(1 + exp(x_i . w + b)) - y_ik (x_i . w + b)] + lam_k / 2 * ||w||^2

with the bias not penalised: scikit-learn's ``LogisticRegression(C=1 / (lam_k * n))``.

How it is fast:

* **Row space.** The optimum ``w`` lies in the span of the (centred) rows of ``x``, so the problem is
  solved in the eigenbasis ``V`` (D, r) of ``x^T x / n``, keeping the r <= min(n - 1, D) directions with
  non-negligible variance. With 1% of labels (n ~ 70) that is a 7x smaller problem than D = 512.
* **Preconditioning.** In that basis the Hessian of f_k is close to ``diag(c_k * Lambda + lam_k)``, with
  ``c_k = p_k (1 - p_k)`` from the class prior. Each problem is solved in coordinates scaled by
  ``(c_k * Lambda + lam_k) ** -0.5``, where it is roughly isotropic.
* **Per-problem L-BFGS, vectorised.** Every problem has its own L-BFGS history, step length and
  stopping test, but all active problems share the two matrix products of an iteration. Everything is
  float64: with float32 products the solver stalled at 100x the objective error, no faster. A
  problem that has converged leaves the active set, so later products shrink.

A problem stops when its relative decrease of f over an iteration falls below ``ftol`` or its
preconditioned gradient falls below ``gtol``; the ones that reach ``max_iter`` are counted in
:class:`LogisticFit` rather than passed off as converged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.special

HISTORY = 10
"""L-BFGS memory (correction pairs kept per problem)."""


@dataclass
class LogisticFit:
    """Weights (D, K) and biases (K,) of K problems, with how the solver got there."""

    weight: np.ndarray
    bias: np.ndarray
    loss: np.ndarray
    """(K,) final objective values."""
    n_iter: np.ndarray
    """(K,) iterations each problem took."""
    converged: np.ndarray
    """(K,) bool: stopping test met before ``max_iter``."""
    rank: int
    """Dimension of the row space the problems were solved in."""


def _problem_losses(logits: np.ndarray, target: np.ndarray, n: int) -> np.ndarray:
    """(K,) mean binary cross-entropy with logits, stable (float64 sum)."""
    return (np.logaddexp(0.0, logits) - target * logits).sum(axis=0, dtype=np.float64) / n


def fit_logistic_many(x: np.ndarray, y: np.ndarray, lam: np.ndarray, max_iter: int = 1000,
                      ftol: float = 1e-12, gtol: float = 1e-8, rank_tol: float = 1e-9) -> LogisticFit:
    """Fit K logistic regressions: column k of ``y`` (n, K) in {0, 1} on ``x`` (n, D) with L2 ``lam[k]``.

    ``x`` should be standardised (centred columns); the same ``x`` serves every problem.
    """
    n = x.shape[0]
    yk = np.asarray(y, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    k_all = yk.shape[1]
    if lam.shape != (k_all,):
        raise ValueError(f"lam has shape {lam.shape}, expected ({k_all},)")
    x64 = np.asarray(x, dtype=np.float64)
    evals, evecs = np.linalg.eigh(x64.T @ x64 / n)
    keep = evals > rank_tol * max(float(evals.max()), 1e-300)
    ev, basis = evals[keep], evecs[:, keep]  # (r,), (D, r)
    r = int(keep.sum())
    feats = x64 @ basis  # (n, r)

    prior = np.clip(yk.mean(axis=0, dtype=np.float64), 1e-4, 1 - 1e-4)
    curv = prior * (1 - prior)  # (K,) expected Hessian weight of the loss
    # Coordinates u with w_V = scale * u (weights) and b = bscale * u_b (bias); row r of u is the bias.
    scale = np.empty((r + 1, k_all))
    scale[:r] = 1.0 / np.sqrt(curv[None, :] * ev[:, None] + lam[None, :])
    scale[r] = 1.0 / np.sqrt(curv)
    pen = np.zeros((r + 1, k_all))
    pen[:r] = lam[None, :]

    u_out = np.zeros((r + 1, k_all))
    u_out[r] = np.log(prior / (1 - prior)) / scale[r]
    f_out = np.zeros(k_all)
    n_iter = np.zeros(k_all, dtype=np.int64)
    converged = np.zeros(k_all, dtype=bool)

    def objective(sc: np.ndarray, pn: np.ndarray, tgt: np.ndarray, uc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Objectives (k,) and logits (n, k) at ``uc`` (r + 1, k), for problems of scales ``sc``,
        penalties ``pn`` (both (r + 1, k)) and targets ``tgt`` (n, k)."""
        theta = sc * uc
        logits = feats @ theta[:r] + theta[r]
        return _problem_losses(logits, tgt, n) + 0.5 * (pn * theta * theta).sum(axis=0), logits

    def gradient(sc: np.ndarray, pn: np.ndarray, tgt: np.ndarray, uc: np.ndarray,
                 logits: np.ndarray) -> np.ndarray:
        """Gradient in u (r + 1, k) at ``uc``, given the ``logits`` there."""
        resid = scipy.special.expit(logits) - tgt  # (n, k)
        g = np.empty_like(uc)
        g[:r] = feats.T @ resid / n
        g[r] = resid.sum(axis=0) / n
        g += pn * (sc * uc)
        return g * sc

    # State of the active problems, columns compacted whenever some of them finish.
    ids = np.arange(k_all)
    sc, pn, tgt, u = scale, pen, yk, u_out.copy()
    f, logits = objective(sc, pn, tgt, u)
    g = gradient(sc, pn, tgt, u, logits)
    s_hist = np.zeros((HISTORY, r + 1, k_all))
    y_hist = np.zeros((HISTORY, r + 1, k_all))
    rho = np.zeros((HISTORY, k_all))  # 0 marks an empty (or skipped) slot
    done = np.abs(g).max(axis=0) <= gtol
    slot = 0
    for it in range(max_iter + 1):
        if done.any():  # retire finished problems, compact the rest
            fin = ids[done]
            u_out[:, fin], f_out[fin], converged[fin] = u[:, done], f[done], True
            keep_cols = ~done
            ids, sc, pn, tgt, u, f, g = (ids[keep_cols], sc[:, keep_cols], pn[:, keep_cols], tgt[:, keep_cols],
                                         u[:, keep_cols], f[keep_cols], g[:, keep_cols])
            s_hist, y_hist, rho = s_hist[:, :, keep_cols], y_hist[:, :, keep_cols], rho[:, keep_cols]
        if ids.size == 0 or it == max_iter:
            break
        k = ids.size
        # Two-loop recursion, every problem with its own history.
        q = g.copy()
        alpha = np.zeros((HISTORY, k))
        order = [(slot - 1 - j) % HISTORY for j in range(HISTORY)]  # newest first
        for j in order:
            alpha[j] = rho[j] * np.einsum("ik,ik->k", s_hist[j], q)
            q -= alpha[j] * y_hist[j]
        newest = order[0]
        yy = np.einsum("ik,ik->k", y_hist[newest], y_hist[newest])
        has = (rho[newest] > 0) & (yy > 0)
        q *= np.where(has, 1.0 / np.where(has, rho[newest] * yy, 1.0), 1.0)  # gamma = s.y / y.y
        for j in reversed(order):
            beta = rho[j] * np.einsum("ik,ik->k", y_hist[j], q)
            q += (alpha[j] - beta) * s_hist[j]
        direction = -q
        slope = np.einsum("ik,ik->k", g, direction)
        bad = slope >= 0  # not a descent direction (stale history): fall back to steepest descent
        if bad.any():
            direction[:, bad] = -g[:, bad]
            slope[bad] = -np.einsum("ik,ik->k", g[:, bad], g[:, bad])
            rho[:, bad] = 0.0

        # Backtracking Armijo line search, each problem with its own step; step 1 is usually taken.
        step = np.ones(k)
        f_new, logits = objective(sc, pn, tgt, u + direction)
        pending = np.flatnonzero(~(np.isfinite(f_new) & (f_new <= f + 1e-4 * slope)))
        for _ in range(40):
            if pending.size == 0:
                break
            step[pending] *= 0.5
            fc, lc = objective(sc[:, pending], pn[:, pending], tgt[:, pending],
                               u[:, pending] + step[pending] * direction[:, pending])
            ok = np.isfinite(fc) & (fc <= f[pending] + 1e-4 * step[pending] * slope[pending])
            f_new[pending[ok]] = fc[ok]
            logits[:, pending[ok]] = lc[:, ok]
            pending = pending[~ok]
        stalled = np.zeros(k, dtype=bool)
        if pending.size:  # no decrease found: the problem is as converged as float arithmetic allows
            stalled[pending] = True
            step[pending] = 0.0
            f_new[pending] = f[pending]
            logits[:, pending] = objective(sc[:, pending], pn[:, pending], tgt[:, pending], u[:, pending])[1]
        sk = step * direction
        u_new = u + sk
        g_new = gradient(sc, pn, tgt, u_new, logits)
        yk_ = g_new - g
        sy = np.einsum("ik,ik->k", sk, yk_)
        good = sy > 1e-12 * np.sqrt(np.einsum("ik,ik->k", sk, sk) * np.einsum("ik,ik->k", yk_, yk_))
        s_hist[slot], y_hist[slot] = sk, yk_
        rho[slot] = np.where(good, 1.0 / np.where(good, sy, 1.0), 0.0)
        slot = (slot + 1) % HISTORY

        decrease = f - f_new
        scale_f = np.maximum(np.maximum(np.abs(f), np.abs(f_new)), 1.0)
        u, g, f = u_new, g_new, f_new
        n_iter[ids] = it + 1
        done = stalled | (decrease <= ftol * scale_f) | (np.abs(g).max(axis=0) <= gtol)
    if ids.size:  # the iteration limit: keep the last iterate, flagged as not converged
        u_out[:, ids], f_out[ids] = u, f

    theta = scale * u_out
    weight = basis @ theta[:r]
    return LogisticFit(weight=weight, bias=theta[r].copy(), loss=f_out, n_iter=n_iter, converged=converged,
                       rank=r)
