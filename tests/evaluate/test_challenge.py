import numpy as np
import pandas as pd

from threekg.evaluate.challenge import _tables, challenge_metric, load_weights

NAMES = pd.read_csv("src/threekg/data/tables/cinc2020_scored.csv")["class"].drop_duplicates().tolist()


def test_weight_table_is_symmetric_unit_diagonal_with_equivalents() -> None:
    w, scored = _tables()
    m = w.to_numpy()
    assert m.shape == (27, 27) and np.allclose(m, m.T) and np.allclose(np.diag(m), 1)
    for a, b in [("713427006", "59118001"), ("284470004", "63593006"), ("427172004", "17338001")]:
        assert w.loc[a, b] == 1.0
    assert set(w.index) == set(scored["snomed"].astype(str))
    assert ((m > 0.1) & (m <= 1)).all()


def test_truth_scores_one_all_nsr_zero_and_partial_in_between() -> None:
    rng = np.random.default_rng(0)
    t = rng.random((300, len(NAMES))) < 0.1
    t[~t.any(axis=1), NAMES.index("NSR")] = True
    nsr = np.zeros_like(t)
    nsr[:, NAMES.index("NSR")] = True
    assert abs(challenge_metric(t, t, NAMES) - 1.0) < 1e-12
    assert abs(challenge_metric(t, nsr, NAMES)) < 1e-12
    noisy = t ^ (rng.random(t.shape) < 0.05)
    assert 0 < challenge_metric(t, noisy, NAMES) < 1
    assert load_weights(NAMES).shape == (24, 24)
