"""Per-recording input scaling shared by pretraining and evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from threekg.data.normalize import normalize_recordings, recording_scale


def test_minmax_divides_each_recording_by_its_own_span() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 12, 50)).astype(np.float32)
    x[1] *= 7.0
    y = normalize_recordings(x, "minmax")
    for i in range(3):
        span = float(x[i].max()) - float(x[i].min())  # the reference: whole recording, all leads
        np.testing.assert_allclose(y[i], x[i] / np.float32(span), rtol=0, atol=0)
        assert y[i].max() - y[i].min() == pytest.approx(1.0, abs=1e-6)
    assert np.array_equal(normalize_recordings(x, "none"), x)


def test_flat_and_non_finite_recordings() -> None:
    x = np.zeros((2, 12, 10), np.float32)
    x[1, 3, 4] = np.nan
    s = recording_scale(x)
    assert s[0] == 1.0 and np.isnan(s[1])
    with pytest.raises(ValueError, match="normalize must be one of"):
        normalize_recordings(x, "zscore")
