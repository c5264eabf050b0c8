"""NeuroKit2 features against reference values: known sinusoids and noise, the generator's own truth."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("neurokit2")

from threekg.leads import LEADS
from threekg.synth import generate_record, sample_patient
from threekg.synth.realism.features import FEATURES, DelineationError, noise_features, record_features

FS = 500.0
N = 5000


def _leads(x: np.ndarray) -> np.ndarray:
    return np.tile(x, (12, 1))


def test_noise_levels_of_known_signals() -> None:
    t = np.arange(N) / FS
    mains = noise_features(_leads(0.03 * np.sin(2 * np.pi * 50 * t + 0.3)), FS)
    assert mains["powerline_mv"] == pytest.approx(0.03, rel=0.02)
    wander = noise_features(_leads(0.1 * np.sin(2 * np.pi * 0.2 * t)), FS)
    # s.d. of a sinusoid is A / sqrt(2); an order-2 Butterworth at 0.5 Hz passes 0.2 Hz at 0.975 (filtfilt)
    assert wander["wander_mv"] == pytest.approx(0.1 / np.sqrt(2) * 0.975, rel=0.05)
    assert wander["wander_p2p_mv"] == pytest.approx(0.2 * 0.975, rel=0.05)
    white = noise_features(np.random.default_rng(0).normal(0.0, 0.01, (12, N)), FS)
    # white noise of s.d. s in a band B: s * sqrt(B / (fs / 2))
    assert white["muscle_mv"] == pytest.approx(0.01 * np.sqrt(25 / 250), rel=0.1)
    assert white["hf_noise_mv"] == pytest.approx(0.01 * np.sqrt((225 - 70) / 250), rel=0.1)
    assert white["powerline_mv"] < 0.001


def _record(labels: list[str], k: int = 0) -> tuple[np.ndarray, dict]:
    patient = sample_patient(np.random.default_rng([21, k]))
    return generate_record(patient, labels, fs=FS, rng=np.random.default_rng([22, k]), noise=False)


def test_features_agree_with_the_generators_truth() -> None:
    for k in range(2):
        ecg, meta = _record(["NSR"], k)
        f = record_features(ecg, FS)
        assert set(f) == set(FEATURES)
        rr = np.diff(np.asarray(meta["r_times_s"]))
        assert f["hr_bpm"] == pytest.approx(60.0 / rr.mean(), rel=0.02)
        assert f["rr_cv"] == pytest.approx(rr.std() / rr.mean(), abs=0.005)
        assert abs(f["qrs_axis_deg"] - meta["qrs_axis_deg"]) < 15
        v5 = ecg[LEADS.index("V5")]
        # QRS peak-to-peak of each beat (R +- 60 ms on the raw signal); the 40 Hz band costs a few percent
        half = round(0.06 * FS)
        p2p = [np.ptp(v5[int(r * FS) - half : int(r * FS) + half]) for r in meta["r_times_s"][1:-1]]
        assert f["qrs_amp_mv_V5"] == pytest.approx(np.median(p2p), rel=0.12)
        assert 100 < f["pr_ms"] < 220 and 50 < f["qrs_ms"] < 120 and 330 < f["qtc_ms"] < 470
        assert f["t_amp_mv_V5"] > 0.05 and f["beat_corr"] > 0.98
        # noise-free: no high band; at 50/60 Hz only the QRS's own harmonics (a regular rhythm's real-shaped QRS
        # reaches 1.5 uV there: record 0, 79 bpm; the mains the noise model adds is 0.3-3 uV)
        assert f["hf_noise_mv"] < 1e-3 and f["powerline_mv"] < 2e-3


def test_inverted_t_and_long_pr_are_seen() -> None:
    normal = record_features(_record(["NSR"])[0], FS)
    tinv = record_features(_record(["NSR", "TInv"])[0], FS)
    assert tinv["t_amp_mv_V5"] < 0 < normal["t_amp_mv_V5"]
    iavb = record_features(_record(["NSR", "IAVB"])[0], FS)
    assert iavb["pr_ms"] > normal["pr_ms"] + 50


def test_unusable_records_raise_one_line_reasons() -> None:
    with pytest.raises(DelineationError) as exc:
        record_features(np.zeros((12, N)), FS)
    assert "\n" not in str(exc.value) and str(exc.value)
    bad = np.zeros((12, N))
    bad[3, 10] = np.nan
    with pytest.raises(DelineationError, match="NaN"):
        record_features(bad, FS)
    with pytest.raises(DelineationError, match="12"):
        record_features(np.zeros((8, N)), FS)
