import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from threekg.evaluate.bootstrap import bootstrap_ci, draw_counts, paired_bootstrap, weighted_auroc
from threekg.evaluate.metrics import auprc, auroc, evaluable_classes


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auroc_auprc_equal_sklearn_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = (rng.random((400, 7)) < rng.uniform(0.02, 0.6, 7)).astype(np.uint8)
    s = np.round(rng.normal(size=(400, 7)) + y, 1)  # rounding makes many ties
    a, p = auroc(y, s), auprc(y, s)
    for c in range(7):
        assert abs(a[c] - roc_auc_score(y[:, c], s[:, c])) < 1e-9
        assert abs(p[c] - average_precision_score(y[:, c], s[:, c])) < 1e-9


def test_classes_without_positives_are_dropped_with_reason() -> None:
    y = np.array([[0, 1, 1], [0, 0, 1], [0, 1, 1]])
    keep, dropped = evaluable_classes(y, ["a", "b", "c"])
    assert keep.tolist() == [False, True, False]
    assert dropped == {"a": "no positive in test", "c": "no negative in test"}
    assert np.isnan(auroc(y, np.ones((3, 3)))[0])


def test_weighted_auroc_equals_explicit_resample() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random((150, 4)) < 0.3).astype(np.uint8)
    s = np.round(rng.normal(size=(150, 4)), 1)
    counts = draw_counts(y, np.ones(4, bool), 30, seed=1)
    w = weighted_auroc(y, s, counts)
    for b in range(30):
        rows = np.repeat(np.arange(150), counts[b])
        assert np.allclose(w[b], auroc(y[rows], s[rows]), atol=1e-12)


def test_bootstrap_resamples_keep_positives_and_ci_contains_point() -> None:
    rng = np.random.default_rng(4)
    y = np.zeros((200, 3), dtype=np.uint8)
    y[rng.choice(200, 2, replace=False), 0] = 1  # a rare class: many naive resamples lack it
    y[:, 1:] = rng.random((200, 2)) < 0.3
    s = rng.normal(size=(200, 3)) + y
    counts = draw_counts(y, np.ones(3, bool), 500, seed=0)
    assert ((counts @ y) > 0).all() and ((counts @ (1 - y)) > 0).all()
    ci = bootstrap_ci(y, s, n=500, seed=0)
    assert ci["ci_low"] <= ci["point"] <= ci["ci_high"]
    assert ci["ci_high"] - ci["ci_low"] > 0


def test_paired_bootstrap_detects_a_better_encoder_and_is_zero_for_itself() -> None:
    rng = np.random.default_rng(5)
    y = (rng.random((300, 3)) < 0.3).astype(np.uint8)
    good, bad = rng.normal(size=y.shape) + 2 * y, rng.normal(size=y.shape)
    res = paired_bootstrap(y, good, bad, n=300, seed=0)
    assert res["ci_low"] > 0 and res["p_le_0"] == 0.0
    same = paired_bootstrap(y, good, good, n=100, seed=0)
    assert same["diff"] == 0 and same["ci_low"] == 0 and same["ci_high"] == 0
