"""The realism table and the two-sample discriminators against hand-computed references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from threekg.synth.realism.compare import design_matrix, discriminate, markdown_table, realism_table


def _frame(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"a_mv": rng.normal(shift, 1.0, n), "b_ms": rng.normal(100 + 10 * shift, 10, n),
                         "c_deg": rng.uniform(-180, 180, n)})


def test_table_against_numpy_and_sklearn() -> None:
    rng = np.random.default_rng(0)
    s, r = _frame(rng, 50, 0.3), _frame(rng, 80)
    s.loc[3, "a_mv"] = np.nan  # missing values are left out, not counted
    t = realism_table(s, r, ["a_mv", "b_ms"])
    a = s["a_mv"].dropna().to_numpy()
    q25, q50, q75 = np.percentile(r["a_mv"], [25, 50, 75])
    row = t.loc["a_mv"]
    assert row.synth_median == pytest.approx(np.median(a))
    assert (row.real_q25, row.real_median, row.real_q75) == pytest.approx((q25, q50, q75))
    assert row.inside == (q25 <= np.median(a) <= q75)
    auc = roc_auc_score(np.r_[np.ones(len(a)), np.zeros(len(r))], np.r_[a, r["a_mv"]])
    assert row.auroc_alone == pytest.approx(max(auc, 1 - auc))
    assert row.n_synth == 49 and row.n_real == 80
    md = markdown_table(t)
    assert md.count("\n") == 3 and "| a_mv |" in md


def test_angles_enter_as_cosine_and_sine() -> None:
    df = pd.DataFrame({"x_deg": [179.0, -179.0], "y": [1.0, 2.0]})
    m = design_matrix(df, ["x_deg", "y"])
    assert m.shape == (2, 3)
    np.testing.assert_allclose(m[0, :2], m[1, :2] * [1, -1], atol=1e-12)  # 179 and -179 are neighbours


@pytest.mark.parametrize("model", ["logistic", "boosting"])
def test_discriminator_chance_when_alike_and_high_when_apart(model: str) -> None:
    rng = np.random.default_rng(1)
    same = discriminate(_frame(rng, 150), _frame(rng, 150), ["a_mv", "b_ms", "c_deg"], model, repeats=2)
    assert 0.38 < same.auroc < 0.62
    apart = discriminate(_frame(rng, 150, 2.0), _frame(rng, 150), ["a_mv", "b_ms", "c_deg"], model, repeats=1)
    assert apart.auroc > 0.9
    # angles wrapping around +-180 degrees are not a difference
    wrap_a = pd.DataFrame({"c_deg": (rng.normal(180, 10, 150) + 180) % 360 - 180})
    wrap_b = pd.DataFrame({"c_deg": (rng.normal(180, 10, 150) + 180) % 360 - 180})
    assert discriminate(wrap_a, wrap_b, ["c_deg"], model, repeats=2).auroc < 0.65


def test_discriminator_needs_two_records_a_side() -> None:
    rng = np.random.default_rng(2)
    with pytest.raises(ValueError, match="at least 2"):
        discriminate(_frame(rng, 1), _frame(rng, 10), ["a_mv"])
