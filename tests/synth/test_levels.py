"""The joint level model (variability and noise) and what the generator makes of its levels: the fit
against NumPy, draws that keep the fitted covariance, the RR and noise parameters that give the levels
asked for, and its reproducible build from PTB-XL (slow; skipped when ../shared/data is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from realdata_paths import shared_subdir
from threekg.synth import levels as lv
from threekg.synth.noise import draw_noise
from threekg.synth.patient import sample_patient
from threekg.synth.realism.features import noise_features
from threekg.synth.rhythm import SLOW_WAVE_HZ, rr_modulation


def test_fit_is_mean_and_covariance_of_the_logs() -> None:
    rng = np.random.default_rng(0)
    values = np.exp(rng.multivariate_normal([0.0, -2.0, 1.0], [[1.0, 0.5, 0.0], [0.5, 2.0, -0.3], [0.0, -0.3, 0.5]], 500))
    mean, cov = lv.fit(values)
    np.testing.assert_allclose(mean, np.log(values).mean(axis=0))
    np.testing.assert_allclose(cov, np.cov(np.log(values).T))


def test_draws_keep_the_fitted_covariance() -> None:
    model = lv.default_model()
    assert model.folds == (1, 2, 3, 4, 5, 6, 7) and model.n_records > 100
    z = np.random.default_rng(1).standard_normal((20000, len(lv.LEVELS)))
    logs = np.log([list(model.levels(row).values()) for row in z])
    np.testing.assert_allclose(logs.mean(axis=0), model.mean, atol=0.03 * np.sqrt(np.diag(model.cov)).max())
    sd = np.sqrt(np.diag(model.cov))
    # the 2.5 s.d. clip takes about 3 % off each variance
    np.testing.assert_allclose(np.cov(logs.T) / np.outer(sd, sd), model.cov / np.outer(sd, sd), atol=0.06)
    corr = model.cov / np.outer(sd, sd)
    assert corr[lv.LEVELS.index("muscle_mv"), lv.LEVELS.index("hf_noise_mv")] > 0.3  # noisy in every band


def test_patients_carry_their_levels_deterministically() -> None:
    a, b = sample_patient(np.random.default_rng([5, 1])), sample_patient(np.random.default_rng([5, 1]))
    assert a.levels == b.levels and len(a.levels) == len(lv.LEVELS)
    assert sample_patient(np.random.default_rng([5, 2])).levels != a.levels


@pytest.mark.parametrize(("cv", "rmssd", "rr0", "resp"), [(0.03, 0.03, 0.9, 0.25), (0.02, 0.035, 0.7, 0.3),
                                                          (0.02, 0.027, 0.8, 0.25)])
def test_rr_modulation_gives_the_levels_asked_for(cv: float, rmssd: float, rr0: float, resp: float) -> None:
    amp, jitter = rr_modulation(cv, rmssd, rr0, resp)
    rng = np.random.default_rng(0)
    k = np.arange(20000)
    t = k * rr0
    rr = rr0 * (1 + amp * np.sin(2 * np.pi * resp * t) + 0.5 * amp * np.sin(2 * np.pi * SLOW_WAVE_HZ * t + 1.0)
                + rng.normal(0.0, jitter, len(k)))
    got_cv, got_rmssd = rr.std() / rr.mean(), np.sqrt(np.mean(np.diff(rr) ** 2)) / rr.mean()
    # both met within the approximations (sine variance over whole cycles, the slow wave's share)
    assert abs(np.log(got_cv / cv)) + abs(np.log(got_rmssd / rmssd)) < 0.25


def test_noise_measures_about_the_levels_asked_for() -> None:
    """Noise alone, measured by the realism measure's noise features, against the target levels (the
    calibration gains of threekg.synth.noise); ECG content is absent here, so the muscle band is read
    against the level less the ECG's own share."""
    model = lv.default_model()
    rng = np.random.default_rng(2)
    ratios: dict[str, list[float]] = {k: [] for k in ("wander_mv", "hf_noise_mv")}
    for i in range(40):
        levels = model.levels(rng.standard_normal(len(lv.LEVELS)))
        noise, _ = draw_noise(np.random.default_rng([3, i]), 500.0, 5000, 50.0, levels)
        got = noise_features(noise.astype(float), 500.0)
        for key in ratios:
            ratios[key].append(got[key] / levels[key])
    for key, r in ratios.items():
        assert 0.7 < np.median(r) < 1.4, (key, np.median(r))


@pytest.mark.slow
def test_build_reproduces_the_shipped_levels() -> None:
    ptbxl = shared_subdir("ptbxl-500")
    built = lv.build(ptbxl)
    shipped = lv.default_model()
    assert built.n_records == shipped.n_records
    np.testing.assert_allclose(built.mean, shipped.mean, atol=1e-9)
    np.testing.assert_allclose(built.cov, shipped.cov, atol=1e-9)
