"""Beat schedules: R-peak times from a beat-to-beat RR series (rate, variability, ectopy).

The cardiac phase of the dipole model advances by 2 pi per RR interval; we keep the RR series
explicit (one value per beat) and place every beat's Gaussians relative to its own R peak, which is
the same phase with each wave given its own rate dependence (see :mod:`threekg.synth.beats`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from threekg.synth.patient import PatientParams

NORMAL, PAC, PVC = 0, 1, 2
HR_RANGE_BPM: dict[str, tuple[float, float]] = {
    "NSR": (62.0, 95.0),
    "SB": (42.0, 56.0),
    "STach": (105.0, 145.0),
    "SA": (60.0, 85.0),
    "AF": (70.0, 140.0),
}
"""Mean (ventricular) rate range of each rhythm; the patient's ``hr_quantile`` picks a point inside."""
SA_MODULATION = (0.10, 0.20)
"""Relative amplitude of the cyclic (respiratory) RR modulation in sinus arrhythmia."""
AF_RR_SPREAD = (0.18, 0.30)
"""Log-normal spread of the RR intervals in atrial fibrillation (independent beat to beat)."""
MARGIN_S = 1.5
"""Beats are scheduled from -MARGIN_S to seconds + MARGIN_S so that the record starts mid-cycle."""


@dataclass(frozen=True)
class BeatSchedule:
    """R times (s, may lie outside the record), beat kind (NORMAL/PAC/PVC) and preceding RR (s)."""

    r_times: np.ndarray  # (B,)
    kind: np.ndarray  # (B,) int
    rr_prev: np.ndarray  # (B,)
    hr_bpm: float  # nominal mean rate


def _choose_ectopic(rng: np.random.Generator, times: np.ndarray, seconds: float, taken: set[int]) -> list[int]:
    candidates = [k for k in np.flatnonzero((times > 0.8) & (times < seconds - 1.0)) if k not in taken]
    count = min(len(candidates), 1 + int(rng.poisson(0.8)))
    chosen: list[int] = []
    for k in rng.permutation(candidates):
        if all(abs(int(k) - j) > 1 for j in chosen + sorted(taken)):
            chosen.append(int(k))
        if len(chosen) == count:
            break
    return chosen


def schedule_beats(
    labels: list[str], patient: PatientParams, seconds: float, rng: np.random.Generator
) -> BeatSchedule:
    """Draw the R peaks of one record with the rate and regularity its rhythm label demands."""
    rhythm = next(x for x in labels if x in HR_RANGE_BPM)
    lo, hi = HR_RANGE_BPM[rhythm]
    hr = lo + patient.hr_quantile * (hi - lo)
    rr0 = 60.0 / hr
    n = int(np.ceil((seconds + 2 * MARGIN_S) / (0.5 * rr0))) + 4
    k = np.arange(n)
    if rhythm == "AF":
        rr = rr0 * rng.lognormal(0.0, rng.uniform(*AF_RR_SPREAD), n)
        rr = np.maximum(rr, 0.28)
    else:
        amp = rng.uniform(*SA_MODULATION) if rhythm == "SA" else patient.hrv
        phase1, phase2 = rng.uniform(0, 2 * np.pi, 2)
        t_k = k * rr0
        rr = rr0 * (
            1.0
            + amp * np.sin(2 * np.pi * patient.resp_hz * t_k + phase1)
            + 0.3 * amp * np.sin(2 * np.pi * 0.1 * t_k + phase2)
            + rng.normal(0.0, 0.003, n)
        )
    start = -MARGIN_S - rng.uniform(0.0, rr0)
    times = start + np.concatenate([[0.0], np.cumsum(rr[:-1])])
    kind = np.zeros(n, dtype=np.int64)
    taken: set[int] = set()
    for label, beat_kind, coupling in (("PVC", PVC, (0.5, 0.68)), ("PAC", PAC, (0.6, 0.75))):
        if label not in labels:
            continue
        for j in _choose_ectopic(rng, times, seconds, taken):
            c = rng.uniform(*coupling)
            nominal = rr[j - 1]
            rr[j - 1] = c * nominal
            # PVC: the sinus node is not reset, the pause compensates fully; PAC resets it.
            rr[j] = (2.0 - c) * nominal if beat_kind == PVC else nominal * rng.uniform(1.0, 1.1)
            kind[j] = beat_kind
            taken.add(j)
        times = start + np.concatenate([[0.0], np.cumsum(rr[:-1])])
    keep = times < seconds + MARGIN_S
    rr_prev = np.concatenate([[rr0], np.diff(times)])
    return BeatSchedule(r_times=times[keep], kind=kind[keep], rr_prev=rr_prev[keep], hr_bpm=hr)
