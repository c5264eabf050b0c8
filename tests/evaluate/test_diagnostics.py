"""The representation diagnostics against hand-computed values, scikit-learn and Wang & Isola's own formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KNeighborsClassifier

from threekg.evaluate import diagnostics as dx


def test_knn_scores_equal_sklearn_weighted_cosine_knn() -> None:
    rng = np.random.default_rng(0)
    z_train, z_test = rng.normal(size=(60, 8)), rng.normal(size=(25, 8))
    y_train = (rng.random((60, 3)) < 0.4).astype(int)
    k, temp = 7, 0.07
    ours = dx.knn_scores(z_train, y_train, z_test, k=k, temperature=temp)
    for c in range(3):
        ref = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute",
                                   weights=lambda d: np.exp((1.0 - d) / temp)).fit(z_train, y_train[:, c])
        np.testing.assert_allclose(ours[:, c], ref.predict_proba(z_test)[:, 1], rtol=1e-9, atol=1e-12)


def test_knn_scores_hand_computed_and_k_capped_at_n_train() -> None:
    z_train = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    y_train = np.array([[1], [0], [1]])
    z_test = np.array([[2.0, 1.0]])  # cos 2/sqrt5 with the first, 1/sqrt5 with the second, -2/sqrt5 with the third
    s = np.array([2, 1]) / math.sqrt(5)
    w = np.exp(s / 0.5)
    np.testing.assert_allclose(dx.knn_scores(z_train, y_train, z_test, k=2, temperature=0.5), [[w[0] / w.sum()]])
    w3 = np.exp(np.array([2, 1, -2]) / math.sqrt(5) / 0.5)
    np.testing.assert_allclose(dx.knn_scores(z_train, y_train, z_test, k=99, temperature=0.5),
                               [[(w3[0] + w3[2]) / w3.sum()]])


def test_knn_macro_auroc_uses_only_kept_classes() -> None:
    rng = np.random.default_rng(1)
    z_train, z_test = rng.normal(size=(40, 5)), rng.normal(size=(30, 5))
    y_train = (rng.random((40, 2)) < 0.5).astype(int)
    y_test = (rng.random((30, 2)) < 0.5).astype(int)
    scores = dx.knn_scores(z_train, y_train, z_test)
    keep = np.array([False, True])
    assert dx.knn_macro_auroc(z_train, y_train, z_test, y_test, keep) == pytest.approx(
        roc_auc_score(y_test[:, 1], scores[:, 1]))


def _cross(a: float, b: float, offset: float = 0.0) -> np.ndarray:
    """Rows +-a e1, +-b e2 (+ a common offset): centred singular values a sqrt2 and b sqrt2."""
    return np.array([[a, 0.0], [-a, 0.0], [0.0, b], [0.0, -b]]) + offset


def test_effective_rank_hand_values() -> None:
    assert dx.effective_rank(_cross(1, 1)) == pytest.approx(2.0)
    p = np.array([1.0, 3.0]) / 4.0  # singular values sqrt2 and 3 sqrt2
    assert dx.effective_rank(_cross(1, 3)) == pytest.approx(math.exp(-(p * np.log(p)).sum()))
    assert dx.effective_rank(_cross(1, 3)) == pytest.approx(1.7548, abs=1e-4)
    assert dx.effective_rank(_cross(1, 3, offset=7.0)) == pytest.approx(dx.effective_rank(_cross(1, 3)))  # centred
    assert dx.effective_rank(np.outer(np.arange(5.0), [1.0, 2.0, 3.0])) == pytest.approx(1.0)  # rank one
    assert math.isnan(dx.effective_rank(np.ones((4, 3))))
    assert dx.effective_rank(np.eye(6) * 3.0) == pytest.approx(5.0)  # centred identity: 5 equal singular values


def test_dims_for_variance_hand_values() -> None:
    assert dx.dims_for_variance(_cross(1, 3), 0.99) == 2  # variances 1 : 9 -> the first holds 90%
    assert dx.dims_for_variance(_cross(1, 3), 0.9) == 1  # exactly 90%
    assert dx.dims_for_variance(_cross(1, 100), 0.99) == 1  # 10000 / 10001
    assert dx.dims_for_variance(np.ones((3, 2)), 0.99) == 0


def test_alignment_hand_values() -> None:
    assert dx.alignment(np.array([[2.0, 0.0]]), np.array([[0.0, 3.0]])) == pytest.approx(2.0)  # normalised first
    assert dx.alignment(np.array([[1.0, 0.0]]), np.array([[-5.0, 0.0]])) == pytest.approx(4.0)
    za, zb = np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    d2 = np.sum((np.array([1.0, 1.0]) / math.sqrt(2) - np.array([0.0, 1.0])) ** 2)
    assert dx.alignment(za, zb) == pytest.approx(d2 / 2)
    assert dx.alignment(za, zb, alpha=1.0) == pytest.approx(math.sqrt(d2) / 2)


def test_uniformity_hand_value_and_wang_isola_reference() -> None:
    z = np.array([[1.0, 0.0], [-3.0, 0.0], [0.0, 0.5]])  # squared distances after normalising: 4, 2, 2
    assert dx.uniformity(z) == pytest.approx(math.log((math.exp(-8) + 2 * math.exp(-4)) / 3))
    assert dx.uniformity(np.array([[1.0, 1.0], [2.0, 2.0]])) == pytest.approx(0.0)
    x = torch.nn.functional.normalize(torch.randn(50, 16, generator=torch.Generator().manual_seed(0)), dim=1)
    reference = torch.pdist(x.double(), p=2).pow(2).mul(-2).exp().mean().log().item()  # Wang & Isola (2020)
    assert dx.uniformity(x.numpy()) == pytest.approx(reference, rel=1e-6)


def test_uniformity_and_pair_cosine_skip_pairs_of_one_group() -> None:
    z = np.array([[1.0, 0.0], [-3.0, 0.0], [0.0, 0.5]])
    groups = np.array([0, 0, 1])  # the antipodal pair is one record: only the two squared distances 2 count
    assert dx.uniformity(z, groups=groups) == pytest.approx(-4.0)
    assert dx.mean_pair_cosine(z, groups=groups) == pytest.approx(0.0)
    assert math.isnan(dx.uniformity(z, groups=np.zeros(3)))


def test_invariance_hand_values() -> None:
    z = np.eye(2)
    assert dx.invariance(z, 5.0 * z) == pytest.approx(1.0)  # same direction: invariant
    assert dx.invariance(z, np.ones((2, 2))) == pytest.approx(1 / math.sqrt(2))  # 45 degrees, records orthogonal
    e = np.eye(3)
    assert dx.invariance(e, e[[1, 2, 0]]) == pytest.approx(0.0)  # as far as another record
    z2 = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])  # pair cosines all 1/2
    assert dx.invariance(z2, np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])) == pytest.approx(-1.0)
    assert math.isnan(dx.invariance(np.ones((3, 2)), np.ones((3, 2))))


def test_cycle_phase_and_edge_phases_hand_values() -> None:
    peaks = np.array([10, 30, 50])
    assert dx.cycle_phase(peaks, 15) == pytest.approx(2 * math.pi * 5 / 20)
    assert dx.cycle_phase(peaks, 30) == pytest.approx(0.0)
    assert dx.cycle_phase(peaks, 9) is None and dx.cycle_phase(peaks, 50) is None
    a, b = 2 * math.pi * 5 / 20, 2 * math.pi * 4 / 20  # crop 15..34: 5 of 20 samples in, last sample 4 of 20
    np.testing.assert_allclose(dx.edge_phases(peaks, 15, 20), [math.cos(a), math.sin(a), math.cos(b), math.sin(b)])
    assert dx.edge_phases(peaks, 5, 20) is None and dx.edge_phases(peaks, 15, 40) is None


def test_r_peak_train_hand_values() -> None:
    fs = 100.0  # bins of 5 samples (centres 2.5, 7.5, ...), sigma 5 samples
    train = dx.r_peak_train(np.array([112.5]), start=100, length=50, fs=fs)  # 12.5 samples in: bin 2's centre
    assert train.shape == (10,)
    np.testing.assert_allclose(train[[0, 1, 2]], [math.exp(-(10**2) / 50), math.exp(-(5**2) / 50), math.exp(-0.0)],
                               atol=1e-12)
    two = dx.r_peak_train(np.array([102, 130]), start=100, length=50, fs=fs)
    np.testing.assert_allclose(two, dx.r_peak_train(np.array([102]), 100, 50, fs)
                               + dx.r_peak_train(np.array([130]), 100, 50, fs))


def _synthetic_crops(n_records: int = 120, crops: int = 4, seed: int = 0):
    """Regular R peaks (RR 60-120 samples) and random crop starts: (groups, phases (n, 4), peak trains (n, B))."""
    rng = np.random.default_rng(seed)
    groups, phases, trains = [], [], []
    for r in range(n_records):
        rr = rng.integers(60, 120)
        peaks = np.arange(rng.integers(0, rr), 1000, rr)
        for _ in range(crops):
            s = int(rng.integers(150, 500))
            groups.append(r)
            phases.append(dx.edge_phases(peaks, s, 250))
            trains.append(dx.r_peak_train(peaks, s, 250, 100.0))
    return np.array(groups), np.stack(phases), np.stack(trains)


def test_shortcut_r2_high_when_the_embedding_encodes_peak_positions_zero_for_noise() -> None:
    rng = np.random.default_rng(0)
    groups, phases, trains = _synthetic_crops()
    n = groups.size
    mixing = rng.normal(size=(4, 32))
    z_phase = phases @ mixing + 0.05 * rng.normal(size=(n, 32))  # a linear code of the edge phases
    assert dx.shortcut_r2(z_phase, phases, groups) > 0.95
    z_train = trains @ rng.normal(size=(trains.shape[1], 64)) + 0.05 * rng.normal(size=(n, 64))
    assert dx.shortcut_r2(z_train, trains, groups) > 0.9
    noise = rng.normal(size=(n, 32))
    assert abs(dx.shortcut_r2(noise, phases, groups)) < 0.05
    assert abs(dx.shortcut_r2(noise, trains, groups)) < 0.05


def test_shortcut_r2_keeps_a_records_crops_in_one_fold() -> None:
    """A per-record code cannot predict a per-record target of unseen records: R^2 <= ~0 when grouped.

    Without grouping, crops of the same record on both sides of a fold would let the read-out memorise it.
    """
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(60), 4)
    code = rng.normal(size=(60, 80))[groups]
    target = rng.normal(size=(60, 2))[groups]
    assert dx.shortcut_r2(code, target, groups) < 0.05
    ungrouped = dx.shortcut_r2(code, target, np.arange(groups.size))
    assert ungrouped > 0.5  # the same data split by crop leaks: the test above would catch a wrong grouping


def test_shortcut_r2_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="groups"):
        dx.shortcut_r2(np.zeros((4, 2)), np.zeros((4, 1)), np.zeros(4))


def test_find_r_peaks_on_a_synthetic_ecg() -> None:
    pytest.importorskip("neurokit2")
    import neurokit2 as nk

    ecg = nk.ecg_simulate(duration=10, sampling_rate=100, heart_rate=75, random_state=0)
    peaks = dx.find_r_peaks(ecg, 100.0)
    assert peaks.dtype == np.int64
    rr = np.diff(peaks) / 100.0
    assert 10 <= peaks.size <= 13 and np.median(rr) == pytest.approx(0.8, abs=0.05)
    with pytest.raises(ValueError, match="NeuroKit2"):
        dx.find_r_peaks(np.zeros(10), 100.0)
