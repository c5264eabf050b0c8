"""Beat schedules: R-peak times from a beat-to-beat RR series (rate, variability, ectopy).

The cardiac phase of the dipole model advances by 2 pi per RR interval; we keep the RR series
explicit (one value per beat) and place every beat's Gaussians relative to its own R peak, which is
the same phase with each wave given its own rate dependence (see :mod:`threekg.synth.beats`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from threekg.synth.labels import RHYTHMS
from threekg.synth.patient import PatientParams

NORMAL, PAC, PVC = 0, 1, 2
HR_DIST_BPM: dict[str, tuple[float, float, float, float]] = {
    "NSR": (60.0, 98.0, 62.0, 14.0),
    "SB": (40.0, 57.0, 52.0, 4.0),
    "STach": (103.0, 150.0, 112.0, 10.0),
    "SA": (56.0, 92.0, 70.0, 9.0),
    "AF": (55.0, 150.0, 90.0, 20.0),
    "Brady": (36.0, 55.0, 46.0, 5.0),
    "PR": (60.0, 92.0, 70.0, 7.0),
}
"""Mean (ventricular) rate of each rhythm: (low, high, mean, s.d.) of a truncated normal, bpm. The
patient's ``hr_quantile`` is the quantile drawn (PTB-XL-500 NORM records: median 68, IQR 62-76).
Atrial flutter has no entry: its rate is the flutter rate divided by the conduction ratio."""
SA_MODULATION = (0.10, 0.20)
"""Relative amplitude of the cyclic (respiratory) RR modulation in sinus arrhythmia."""
NSR_MAX_RR_RANGE_S = 0.10
"""A normal sinus rhythm's RR range is kept below this (sinus arrhythmia: range > 0.12 s); 0.11 before the
beat-to-beat shape variation, which moves the measured R peaks by a few ms."""
AF_RR_SPREAD = (0.18, 0.30)
"""Log-normal spread of the RR intervals in atrial fibrillation (independent beat to beat)."""
FLUTTER_RATE_BPM = (250.0, 340.0)
"""Atrial rate of flutter (typical counter-clockwise flutter, 250-350 per minute)."""
FLUTTER_CONDUCTION: tuple[tuple[tuple[int, ...], float], ...] = (((2,), 0.35), ((4,), 0.30), ((3,), 0.10),
                                                                  ((2, 4), 0.25))
"""AV conduction ratios of flutter and their probabilities; (2, 4): variable block, each beat 2:1 or 4:1."""
MARGIN_S = 1.5
"""Beats are scheduled from -MARGIN_S to seconds + MARGIN_S so that the record starts mid-cycle."""


def rate_bpm(rhythm: str, quantile: float) -> float:
    """The ``quantile`` (0-1) of the rhythm's truncated-normal rate distribution, bpm."""
    from scipy.special import ndtr, ndtri

    lo, hi, mean, sd = HR_DIST_BPM[rhythm]
    a, b = ndtr((lo - mean) / sd), ndtr((hi - mean) / sd)
    q = float(np.clip(a + quantile * (b - a), 1e-9, 1 - 1e-9))
    return float(np.clip(mean + sd * ndtri(q), lo, hi))


@dataclass(frozen=True)
class BeatSchedule:
    """R times (s, may lie outside the record), beat kind (NORMAL/PAC/PVC) and preceding RR (s).

    ``flutter``: (cycle length s, time of a flutter-wave trough s) for atrial flutter, else None.
    """

    r_times: np.ndarray  # (B,)
    kind: np.ndarray  # (B,) int
    rr_prev: np.ndarray  # (B,)
    hr_bpm: float  # nominal mean rate
    flutter: tuple[float, float] | None = None


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


SLOW_WAVE_HZ = 0.1
"""Frequency of the slow (baroreflex) RR modulation, at half the respiratory modulation's amplitude."""
RR_LEVEL_FLOOR = 0.002
"""Smallest respiratory modulation and jitter (relative) given to a record with target levels."""


def rr_modulation(rr_cv: float, rmssd_norm: float, rr0: float, resp_hz: float) -> tuple[float, float]:
    """Respiratory modulation amplitude and beat-to-beat jitter (both relative to ``rr0``) whose RR
    series has about the coefficient of variation ``rr_cv`` and normalised RMSSD ``rmssd_norm``.

    For RR_k = rr0 (1 + A sin(2 pi f_r t_k) + A/2 sin(2 pi 0.1 t_k) + J e_k): cv^2 = (1/2 + 1/8) A^2 + J^2,
    rmssd^2 = (2 sin^2(pi f_r rr0) + 1/2 sin^2(pi 0.1 rr0)) A^2 + 2 J^2; solved for (A^2, J^2) >= 0 by
    non-negative least squares (``scipy.optimize.nnls``).
    """
    from scipy.optimize import nnls

    s_resp, s_slow = np.sin(np.pi * resp_hz * rr0) ** 2, np.sin(np.pi * SLOW_WAVE_HZ * rr0) ** 2
    design = np.array([[0.625, 1.0], [2.0 * s_resp + 0.5 * s_slow, 2.0]])
    # each equation relative to its own target: a record's ratio rmssd / cv is met as well as cv
    weight = 1.0 / np.array([rr_cv, rmssd_norm]) ** 2
    sq, _ = nnls(design * weight[:, None], np.array([rr_cv, rmssd_norm]) ** 2 * weight)
    a, j = np.sqrt(sq)
    return max(float(a), RR_LEVEL_FLOOR), max(float(j), RR_LEVEL_FLOOR)


def _sinus_rr(rhythm: str, patient: PatientParams, rr0: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """RR series of a sinus (or paced, junctional) rhythm: respiratory and 0.1 Hz modulation plus jitter,
    at the patient's target levels (:mod:`threekg.synth.levels`) when it has them."""
    k = np.arange(n)
    if patient.levels:
        amp, jitter = rr_modulation(patient.levels[0], patient.levels[1], rr0, patient.resp_hz)
    else:
        amp, jitter = patient.hrv, patient.rr_jitter
    if rhythm == "SA":
        amp = rng.uniform(*SA_MODULATION)
    if rhythm == "Brady":
        amp *= 0.3  # a junctional pacemaker is little modulated by breathing
    phase1, phase2 = rng.uniform(0, 2 * np.pi, 2)
    t_k = k * rr0
    mod = (amp * np.sin(2 * np.pi * patient.resp_hz * t_k + phase1)
           + 0.5 * amp * np.sin(2 * np.pi * SLOW_WAVE_HZ * t_k + phase2)
           + rng.normal(0.0, jitter, n))
    rr = rr0 * (1.0 + mod)
    if rhythm != "SA":
        # Keep the rhythm regular enough not to meet the sinus-arrhythmia criterion (RR range > 0.12 s).
        centre = slice(int(MARGIN_S / rr0), int(MARGIN_S / rr0) + int(12.0 / rr0) + 2)
        spread = float(np.ptp(rr[centre]))
        if spread > NSR_MAX_RR_RANGE_S:
            rr = rr0 + (rr - rr0) * (NSR_MAX_RR_RANGE_S / spread)
    return rr


def _flutter_rr(rr_cycle: float, n: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """RR series of flutter: multiples of the flutter cycle (conduction ratio per beat); mean ratio."""
    patterns = [p for p, _ in FLUTTER_CONDUCTION]
    pattern = patterns[int(rng.choice(len(patterns), p=[w for _, w in FLUTTER_CONDUCTION]))]
    ratios = rng.choice(np.asarray(pattern), n)
    return ratios * rr_cycle, float(np.mean(pattern))


def schedule_beats(
    labels: list[str], patient: PatientParams, seconds: float, rng: np.random.Generator
) -> BeatSchedule:
    """Draw the R peaks of one record with the rate and regularity its rhythm label demands."""
    rhythm = next(x for x in labels if x in RHYTHMS)
    flutter = None
    if rhythm == "AFL":
        cycle = 60.0 / (FLUTTER_RATE_BPM[0] + patient.hr_quantile * np.diff(FLUTTER_RATE_BPM)[0])
        n = int(np.ceil((seconds + 2 * MARGIN_S) / (2 * cycle))) + 4
        rr, ratio = _flutter_rr(cycle, n, rng)
        hr = 60.0 / (ratio * cycle)
        rr0 = ratio * cycle
    else:
        hr = rate_bpm(rhythm, patient.hr_quantile)
        rr0 = 60.0 / hr
        n = int(np.ceil((seconds + 2 * MARGIN_S) / (0.5 * rr0))) + 4
        if rhythm == "AF":
            rr = np.maximum(rr0 * rng.lognormal(0.0, rng.uniform(*AF_RR_SPREAD), n), 0.28)
        else:
            rr = _sinus_rr(rhythm, patient, rr0, n, rng)
    start = -MARGIN_S - rng.uniform(0.0, rr0)
    times = start + np.concatenate([[0.0], np.cumsum(rr[:-1])])
    if rhythm == "AFL":
        # every QRS follows a flutter wave by the same AV delay: the waves are locked to the beats
        flutter = (float(cycle), float(start - rng.uniform(0.18, 0.26)))
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
    return BeatSchedule(r_times=times[keep], kind=kind[keep], rr_prev=rr_prev[keep], hr_bpm=hr, flutter=flutter)
