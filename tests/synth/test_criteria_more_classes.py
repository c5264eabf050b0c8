"""The nine classes added for issue 14 meet their clinical criteria, measured independently on
noise-free records (the helpers in synth_measure know nothing of the generator); normals do not."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import synth_measure as m
from scipy.signal import find_peaks
from test_criteria import FS, records

from threekg.leads import LEADS
from threekg.synth import generate_record, sample_patient

L = {name: i for i, name in enumerate(LEADS)}


@pytest.fixture(scope="module")
def normals() -> list[np.ndarray]:
    return records(["NSR"], hr_quantile=0.4, n=8)


def test_atrial_flutter_sawtooth_at_atrial_rate_and_conducted_in_ratio() -> None:
    found = 0
    for k in range(12):
        patient = sample_patient(np.random.default_rng([7, k]), f"F{k}")
        ecg, _ = generate_record(patient, ["AFL"], fs=FS, rng=np.random.default_rng([8, k]), noise=False)
        hr = m.heart_rate(ecg, FS)
        if hr > 80:  # 2:1 and 3:1 conduction leave too little between the QRS complexes to measure
            continue
        found += 1
        atrial_hz = m.tq_dominant_hz(ecg, FS, lead=L["II"])
        assert 3.8 <= atrial_hz <= 6.3  # 230-380 atrial waves per minute (short windows: coarse spectrum)
        assert hr * 2 <= 60 * atrial_hz * 1.1  # at most every second flutter wave is conducted
        # no isoelectric baseline between beats: the flutter waves keep lead II moving
        tq = [ecg[L["II"], b.r + round(0.4 * FS) : nxt.qrs_on - round(0.04 * FS)]
              for b, nxt in zip(m.beats(ecg, FS), m.beats(ecg, FS)[1:], strict=False)]
        assert np.median([np.ptp(x) for x in tq if len(x) > 0.15 * FS]) > 0.08
    assert found >= 2


def test_junctional_bradycardia_slow_without_p_before_the_qrs(normals: list[np.ndarray]) -> None:
    from test_criteria import _has_p_hump

    for ecg in records(["Brady"]):
        assert m.heart_rate(ecg, FS) < 60
        for b in m.beats(ecg, FS):
            assert not _has_p_hump(ecg, b.qrs_on, after=b.r - round(0.8 * FS))
    for ecg in normals:  # sinus beats have their P wave
        assert all(_has_p_hump(ecg, b.qrs_on, after=0) for b in m.beats(ecg, FS))


def _remove_spikes(ecg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pacemaker spikes (spatial velocity far above any QRS slope) and the signal with them bridged."""
    v = m.spatial_velocity(ecg, FS)
    # far steeper than any QRS slope, and narrow: half its height lasts at most 10 ms
    spikes, _ = find_peaks(v, height=2.5 * np.percentile(v, 99), width=(None, 0.01 * FS), rel_height=0.5,
                           distance=round(0.25 * FS))
    clean = ecg.copy()
    for s in spikes:
        lo, hi = max(0, s - 4), min(ecg.shape[1] - 1, s + 4)
        for k in range(12):
            clean[k, lo : hi + 1] = np.linspace(ecg[k, lo], ecg[k, hi], hi - lo + 1)
    return spikes, clean


def test_paced_rhythm_spike_before_every_wide_superior_qrs(normals: list[np.ndarray]) -> None:
    for ecg in records(["PR"]):
        spikes, clean = _remove_spikes(ecg)
        qrs = m.r_peaks(clean, FS)
        assert len(spikes) >= len(qrs) - 1 >= 5
        for s in spikes:  # every spike is followed within 80 ms by a QRS
            assert np.any((qrs > s) & (qrs - s < 0.08 * FS))
        assert m.qrs_width_ms(clean, FS) >= 120
        assert m.qrs_area(clean, FS, L["aVF"]) < 0  # activation from the apex upwards
    for ecg in normals:
        assert len(_remove_spikes(ecg)[0]) == 0


def test_incomplete_rbbb_r_prime_with_qrs_under_120(normals: list[np.ndarray]) -> None:
    for ecg in records(["NSR", "IRBBB"]):
        assert 100 <= m.qrs_width_ms(ecg, FS) < 120
        assert m.terminal_qrs_mean_mv(ecg, FS, L["V1"]) > 0.02  # R' in V1
    for ecg in normals:
        assert m.qrs_width_ms(ecg, FS) < 110


def test_left_anterior_fascicular_block(normals: list[np.ndarray]) -> None:
    for ecg in records(["NSR", "LAnFB", "LAD"]):
        assert m.qrs_axis_deg(ecg, FS) <= -45
        assert m.qrs_width_ms(ecg, FS) < 120
        assert m.initial_qrs_min_mv(ecg, FS, L["aVL"], ms=20) < 0  # q in aVL (qR)
        k = round(0.02 * FS)  # r in aVF (rS): the first 20 ms of the QRS go up
        starts = [ecg[L["aVF"], b.qrs_on : b.qrs_on + k].max() - ecg[L["aVF"], b.qrs_on] for b in m.beats(ecg, FS)]
        assert np.median(starts) > 0.02
    for ecg in normals:
        assert m.qrs_axis_deg(ecg, FS) > -30


def test_nonspecific_intraventricular_delay_wide_without_bundle_branch_pattern() -> None:
    for ecg in records(["NSR", "NSIVCB"]):
        assert m.qrs_width_ms(ecg, FS) >= 110
        assert m.terminal_qrs_mean_mv(ecg, FS, L["V1"]) < 0.05  # no R' (not RBBB)
        assert m.qrs_area(ecg, FS, L["V6"]) > 0 and m.initial_qrs_min_mv(ecg, FS, L["V6"]) < 0  # septal q (not LBBB)


def test_prolonged_pr_interval(normals: list[np.ndarray]) -> None:
    for ecg in records(["NSR", "LPR"], hr_quantile=0.4):
        assert m.pr_interval_ms(ecg, FS) > 200
    for ecg in normals:
        assert m.pr_interval_ms(ecg, FS) <= 200


def test_pathological_q_waves_in_two_contiguous_leads(normals: list[np.ndarray]) -> None:
    regions = {"inferior": ("II", "aVF"), "anterior": ("V2", "V3")}

    def pathological(ecg: np.ndarray, leads: tuple[str, ...]) -> bool:
        # Q >= 40 ms, or deeper than a quarter of the R, in both leads (the Minnesota/ESC idea)
        return all((lambda d, r: d >= 40 or r >= 0.25)(*m.q_wave(ecg, FS, L[x])) for x in leads)

    for territory in regions:
        for k in range(4):
            patient = replace(sample_patient(np.random.default_rng([7, k]), f"Q{k}"), qab_territory=territory)
            ecg, _ = generate_record(patient, ["NSR", "QAb"], fs=FS, rng=np.random.default_rng([8, k]), noise=False)
            assert pathological(ecg, regions[territory]), territory
    for ecg in normals:
        assert not any(pathological(ecg, leads) for leads in regions.values())


def test_t_wave_abnormality_flat_t(normals: list[np.ndarray]) -> None:
    lateral = [L[x] for x in ("V5", "V6")]
    for ecg in records(["NSR", "TAb"]):
        assert max(m.t_to_r_ratio(ecg, FS, k) for k in lateral) < 0.12
    for ecg in normals:
        assert m.t_to_r_ratio(ecg, FS, L["V5"]) > 0.12


