"""The batched logistic solver against scikit-learn's LogisticRegression solved to tight tolerance."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from threekg.evaluate.logistic import fit_logistic_many
from threekg.evaluate.probe import fit_logistic


def _data(n: int, d: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    prev = np.geomspace(0.15, 0.4, classes)
    y = (rng.random((n, classes)) < prev).astype(np.float64)
    mix = rng.normal(size=(d, d)) / np.sqrt(d) + np.eye(d)  # correlated features
    x = (rng.normal(size=(n, d)) @ mix + 0.8 * y @ rng.normal(size=(classes, d)))
    x = (x - x.mean(0)) / x.std(0)
    return x, y


def _objective(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, lam: float) -> float:
    z = x @ w + b
    return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * lam * w @ w)


def _sklearn(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = LogisticRegression(C=1.0 / (lam * len(y)), tol=1e-12, max_iter=50_000).fit(x, y)
    return m.coef_[0], float(m.intercept_[0])


@pytest.mark.parametrize(("n", "d"), [(400, 16), (30, 40)])  # n > D and n < D (rank n - 1)
def test_matches_sklearn(n: int, d: int) -> None:
    x, y = _data(n, d, 3, seed=n)
    lams = np.array([1e-4, 1e-2, 1.0])
    yy = np.tile(y, (1, lams.size))
    lam = np.repeat(lams, y.shape[1])
    fit = fit_logistic_many(x, yy, lam)
    assert fit.converged.all()
    assert fit.rank == min(n - 1, d)
    for k in range(lam.size):
        c = k % y.shape[1]
        assert 0 < y[:, c].sum() < n
        w_ref, b_ref = _sklearn(x, y[:, c], lam[k])
        f_ours = _objective(x, y[:, c], fit.weight[:, k], fit.bias[k], lam[k])
        f_ref = _objective(x, y[:, c], w_ref, b_ref, lam[k])
        assert f_ours == pytest.approx(fit.loss[k], rel=1e-9, abs=1e-12)
        assert f_ours <= f_ref + 1e-9, (k, f_ours, f_ref)
        p_ours = 1 / (1 + np.exp(-(x @ fit.weight[:, k] + fit.bias[k])))
        p_ref = 1 / (1 + np.exp(-(x @ w_ref + b_ref)))
        assert np.abs(p_ours - p_ref).max() < 2e-3, k


def test_rank_deficient_features_match_sklearn() -> None:
    x, y = _data(300, 8, 1, seed=1)
    x = np.concatenate([x, x[:, :3]], axis=1)  # three duplicated columns: rank 8 of 11
    fit = fit_logistic_many(x, y, np.array([1e-2]))
    assert fit.rank == 8
    w_ref, b_ref = _sklearn(x, y[:, 0], 1e-2)
    assert _objective(x, y[:, 0], fit.weight[:, 0], fit.bias[0], 1e-2) <= \
        _objective(x, y[:, 0], w_ref, b_ref, 1e-2) + 1e-10
    np.testing.assert_allclose(fit.weight[:, 0], w_ref, atol=1e-4)


def test_iteration_limit_is_reported_not_hidden() -> None:
    x, y = _data(200, 10, 2, seed=3)
    fit = fit_logistic_many(x, y, np.array([1e-4, 1e-4]), max_iter=2)
    assert not fit.converged.any()
    assert (fit.n_iter == 2).all()


def test_class_without_positives_gives_flat_predictions() -> None:
    x, y = _data(200, 10, 2, seed=4)
    y[:, 1] = 0
    fit = fit_logistic_many(x, y, np.array([1e-2, 1e-2]))
    assert np.abs(fit.weight[:, 1]).max() < 1e-4
    assert fit.bias[1] < -5  # probability of the absent class is near 0
    assert np.isfinite(fit.loss).all()


def test_shape_of_lam_is_checked() -> None:
    x, y = _data(50, 4, 2, seed=5)
    with pytest.raises(ValueError, match="lam has shape"):
        fit_logistic_many(x, y, np.array([1e-2]))


def test_probe_grid_layout() -> None:
    """Problem g * C + c of the probe's grid is strength g on class c."""
    x, y = _data(300, 12, 3, seed=6)
    grid = [1e-3, 1.0]
    fit = fit_logistic(x, y, grid)
    single = fit_logistic_many(x, y[:, 2:3], np.array([1.0]))
    np.testing.assert_allclose(fit.weight[:, 1 * 3 + 2], single.weight[:, 0], atol=1e-6)
