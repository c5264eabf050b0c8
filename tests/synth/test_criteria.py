"""Each class meets its clinical criterion, measured independently on noise-free records; normals do not."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import synth_measure as m

from threekg.leads import LEADS
from threekg.synth import generate_record, sample_patient

FS = 500.0
N_PATIENTS = 5
V1, V6, I_, II = (LEADS.index(x) for x in ("V1", "V6", "I", "II"))


def records(labels: list[str], hr_quantile: float | None = None, n: int = N_PATIENTS) -> list[np.ndarray]:
    """Noise-free records of ``n`` different patients with ``labels`` (optionally at a given rate)."""
    out = []
    for k in range(n):
        patient = sample_patient(np.random.default_rng([7, k]), f"T{k}")
        if hr_quantile is not None:
            patient = replace(patient, hr_quantile=hr_quantile)
        ecg, _ = generate_record(patient, labels, fs=FS, seconds=10.0, rng=np.random.default_rng([8, k]),
                                 noise=False)
        out.append(ecg)
    return out


@pytest.fixture(scope="module")
def normals() -> list[np.ndarray]:
    return records(["NSR"], hr_quantile=0.4, n=8)


def test_heart_rate_by_rhythm() -> None:
    for labels, lo, hi in ((["NSR"], 60, 100), (["SB"], 30, 60), (["STach"], 100, 200)):
        for ecg in records(labels):
            assert lo < m.heart_rate(ecg, FS) < hi, labels


def test_sinus_arrhythmia_rr_varies_cyclically_and_nsr_does_not() -> None:
    for ecg in records(["SA"]):
        rr = m.rr_intervals(ecg, FS)
        assert np.ptp(rr) > 0.12
    for ecg in records(["NSR"]):
        assert np.ptp(m.rr_intervals(ecg, FS)) < 0.12


def test_af_irregular_rr_no_locked_p_and_fibrillatory_waves() -> None:
    for ecg in records(["AF"], hr_quantile=0.2):
        rr = m.rr_intervals(ecg, FS)
        assert np.sqrt(np.mean(np.diff(rr) ** 2)) / rr.mean() > 0.1
        assert m.p_wave_consistency(ecg, FS) < 0.6
        assert 4.0 <= m.tq_frequency_hz(ecg, FS) <= 9.0
    for ecg in records(["NSR"], hr_quantile=0.2):
        assert m.p_wave_consistency(ecg, FS) > 0.9


def test_first_degree_av_block_prolongs_pr(normals: list[np.ndarray]) -> None:
    for ecg in records(["NSR", "IAVB"], hr_quantile=0.4):
        assert m.pr_interval_ms(ecg, FS) > 200
    for ecg in normals:
        assert 120 <= m.pr_interval_ms(ecg, FS) <= 200


def test_bundle_branch_blocks_widen_qrs(normals: list[np.ndarray]) -> None:
    for labels in (["NSR", "RBBB"], ["NSR", "LBBB"], ["SB", "LBBB"], ["STach", "RBBB"]):
        for ecg in records(labels):
            assert m.qrs_width_ms(ecg, FS) >= 120, labels
    for ecg in normals:
        assert 70 <= m.qrs_width_ms(ecg, FS) <= 110


def test_rbbb_terminal_rightward_anterior_forces() -> None:
    for ecg in records(["NSR", "RBBB"]):
        assert m.terminal_qrs_mean_mv(ecg, FS, V1) > 0.05  # R' in V1
        assert m.terminal_qrs_mean_mv(ecg, FS, I_) < 0.0  # wide terminal S in I


def test_lbbb_leftward_posterior_without_septal_q() -> None:
    for ecg in records(["NSR", "LBBB"]):
        assert m.qrs_area(ecg, FS, V1) < 0 < m.qrs_area(ecg, FS, V6)
        for lead in (I_, V6):
            assert m.initial_qrs_min_mv(ecg, FS, lead) > -0.03


def test_axis_deviation(normals: list[np.ndarray]) -> None:
    for ecg in records(["NSR", "LAD"]):
        assert m.qrs_axis_deg(ecg, FS) < -30
    for ecg in records(["NSR", "RAD"]):
        assert m.qrs_axis_deg(ecg, FS) > 90
    for ecg in normals:
        assert -30 <= m.qrs_axis_deg(ecg, FS) <= 90


def test_low_qrs_voltage(normals: list[np.ndarray]) -> None:
    for ecg in records(["NSR", "LQRSV"]):
        assert m.limb_qrs_p2p_mv(ecg, FS) < 0.5
    for ecg in normals:
        assert m.limb_qrs_p2p_mv(ecg, FS) >= 0.5


def test_long_qt(normals: list[np.ndarray]) -> None:
    for labels in (["NSR", "LQT"], ["SB", "LQT"]):
        for ecg in records(labels):
            assert m.qt_interval_ms(ecg, FS)[1] > 460
    for ecg in normals:
        assert 350 <= m.qt_interval_ms(ecg, FS)[1] <= 450


def test_t_inversion(normals: list[np.ndarray]) -> None:
    for ecg in records(["NSR", "TInv"]):
        assert m.t_polarity(ecg, FS) < 0
    for ecg in normals:
        assert m.t_polarity(ecg, FS) > 0


def test_normal_r_amplitude_in_v5(normals: list[np.ndarray]) -> None:
    for ecg in normals:
        assert 0.5 <= m.r_amplitude_mv(ecg, FS) <= 2.5


def _early_beats(ecg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    peaks = m.r_peaks(ecg, FS)
    rr = np.diff(peaks) / FS
    early = np.flatnonzero(rr < 0.85 * np.median(rr)) + 1  # index into peaks
    return peaks, early[(early > 0) & (early < len(peaks) - 1)]


def _has_p_hump(ecg: np.ndarray, qrs_on: int, after: int) -> bool:
    """A hump (prominence > 0.03 mV) in the spatial magnitude 30-200 ms before ``qrs_on``, past ``after``."""
    from scipy.signal import find_peaks

    mag = np.sqrt((ecg[[0, 1, 6, 7, 8, 9, 10, 11]] ** 2).sum(axis=0))
    start = qrs_on - round(0.2 * FS)
    humps = find_peaks(mag[start : qrs_on - round(0.03 * FS)], prominence=0.03)[0] + start
    return bool(np.any(humps > after))


def test_pvc_early_wide_without_p_and_compensatory_pause() -> None:
    found = 0
    for ecg in records(["NSR", "PVC"], hr_quantile=0.3):
        peaks, early = _early_beats(ecg)
        rr = np.median(np.diff(peaks)) / FS
        for k in early:
            found += 1
            on, off = m.qrs_bounds(ecg, FS, int(peaks[k]))
            assert (off - on) / FS * 1000 >= 120
            assert abs((peaks[k + 1] - peaks[k - 1]) / FS - 2 * rr) < 0.12 * rr  # full compensation
            # no P wave: no hump in the spatial magnitude 30-200 ms before the QRS (the sinus beats have one)
            # (humps within 0.4 s of the previous R are its T wave, which an early PVC falls on)
            assert not _has_p_hump(ecg, on, after=int(peaks[k - 1]) + round(0.4 * FS))
            assert _has_p_hump(ecg, m.qrs_bounds(ecg, FS, int(peaks[k - 1]))[0], after=0)
    assert found >= N_PATIENTS


def test_pac_early_narrow_with_changed_p() -> None:
    found = 0
    for ecg in records(["NSR", "PAC"], hr_quantile=0.3):
        peaks, early = _early_beats(ecg)
        for k in early:
            found += 1
            on, off = m.qrs_bounds(ecg, FS, int(peaks[k]))
            assert (off - on) / FS * 1000 < 110
            on_n, _ = m.qrs_bounds(ecg, FS, int(peaks[k + 1]))
            p = ecg[:6, on - round(0.16 * FS) : on - round(0.02 * FS)]
            p_n = ecg[:6, on_n - round(0.16 * FS) : on_n - round(0.02 * FS)]
            assert np.abs(p - p_n).max() > 0.03  # the P wave differs from the sinus P
    assert found >= N_PATIENTS


def test_noisy_records_keep_rate_and_axis() -> None:
    from scipy.signal import butter, sosfiltfilt

    sos = butter(2, [0.5, 40.0], btype="band", fs=FS, output="sos")
    for k in range(3):
        patient = sample_patient(np.random.default_rng([9, k]))
        for labels, check in ((["NSR"], lambda e: 60 < m.heart_rate(e, FS) < 100),
                              (["STach", "LAD"], lambda e: m.heart_rate(e, FS) > 100 and m.qrs_axis_deg(e, FS) < -30)):
            ecg, _ = generate_record(patient, labels, fs=FS, rng=np.random.default_rng([10, k]))
            assert check(sosfiltfilt(sos, ecg, axis=1)), labels
