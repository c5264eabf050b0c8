"""Recording noise in lead space, Einthoven-consistent (drawn for I, II, V1-V6; III, aVR, aVL, aVF derived).

Levels per record: a patient's target levels (:mod:`threekg.synth.levels`, drawn jointly from a model
of real PTB-XL NORM records) are turned into the parameters below by :func:`noise_amplitudes`
(calibrated gains); without target levels, drawn independently from the ranges given.

* baseline wander: three sinusoids at 0.03-0.5 Hz shared by the leads, each lead with its own weights
  and phases (ranges: total amplitude 0.02-0.25 mV per lead);
* electrode motion: a baseline jump with exponential recovery (0.3-1.5 s) on one electrode (RA, LA,
  LL or V1-V6), seen by every lead that uses that electrode (a limb electrode also moves the central
  terminal of V1-V6 by a third): as large as the peak-to-peak wander asked for exceeds what the wander
  makes (ranges: in 55 % of records, 0.1-0.7 mV);
* muscle (EMG): Gaussian noise low-passed at 40 Hz (4th-order Butterworth) (ranges: s.d. 5-22 uV before
  the filter, log-uniform), plus a white floor (1-2 uV: the recorder's own noise);
* mains: the patient's 50 or 60 Hz, per lead 0.3-1 times the record's level (ranges: 0.3-3 uV, log-uniform).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.signal import butter, sosfilt

from threekg.leads import INDEPENDENT_INDEX, LEADS
from threekg.vcg import derive_limb_leads

WANDER_HZ = (0.03, 0.5)
WANDER_MV = (0.02, 0.25)
MAINS_MV = (0.0003, 0.003)
MUSCLE_MV = (0.005, 0.022)
MUSCLE_CUTOFF_HZ = 40.0
FLOOR_MV = (0.001, 0.002)
MOTION_PROBABILITY = 0.55
MOTION_MV = (0.1, 0.7)
MOTION_RECOVERY_S = (0.3, 1.5)
ELECTRODES = ("RA", "LA", "LL", "V1", "V2", "V3", "V4", "V5", "V6")
_ELECTRODE_TO_LEADS = np.array([
    # I, II, V1..V6 (the independent leads) per unit potential on the electrode
    [-1, -1, -1 / 3, -1 / 3, -1 / 3, -1 / 3, -1 / 3, -1 / 3],  # RA
    [1, 0, -1 / 3, -1 / 3, -1 / 3, -1 / 3, -1 / 3, -1 / 3],  # LA
    [0, 1, -1 / 3, -1 / 3, -1 / 3, -1 / 3, -1 / 3, -1 / 3],  # LL
    *np.concatenate([np.zeros((6, 2)), np.eye(6)], axis=1),  # V1..V6
])
"""I = LA - RA, II = LL - RA, Vi = Vi - (RA + LA + LL) / 3."""


@lru_cache(maxsize=8)
def _time_axis(fs: float, n: int) -> np.ndarray:
    return (np.arange(n) / fs).astype(np.float32)


@lru_cache(maxsize=8)
def _mains_basis(fs: float, n: int, hz: float) -> np.ndarray:
    arg = 2 * np.pi * hz * np.arange(n) / fs
    return np.stack([np.sin(arg), np.cos(arg)]).astype(np.float32)


@lru_cache(maxsize=8)
def _muscle_filter(fs: float) -> np.ndarray:
    return butter(4, min(MUSCLE_CUTOFF_HZ, 0.4 * fs), btype="lowpass", fs=fs, output="sos")


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _electrode_motion(rng: np.random.Generator, fs: float, n: int, motion_mv: float) -> np.ndarray:
    """(8, T) a baseline jump of ``motion_mv`` (none if 0) with exponential recovery on a random electrode."""
    out = np.zeros((len(INDEPENDENT_INDEX), n), dtype=np.float32)
    if motion_mv <= 0.0:
        return out
    t = _time_axis(fs, n)
    electrode = int(rng.integers(len(ELECTRODES)))
    amp = rng.choice([-1.0, 1.0]) * motion_mv
    t0, tau = rng.uniform(0.0, n / fs), rng.uniform(*MOTION_RECOVERY_S)
    after = np.clip(t - t0, 0.0, None)
    shape = (1.0 - np.exp(-after / 0.03)) * np.exp(-after / tau)  # 30 ms rise, then recovery
    out += (_ELECTRODE_TO_LEADS[electrode][:, None] * amp * shape[None, :]).astype(np.float32)
    return out


@dataclass(frozen=True)
class NoiseAmplitudes:
    """A record's noise parameters, mV: wander (total per lead), electrode-motion jump (0: none),
    muscle (s.d. before the low-pass), white floor (s.d.) and mains (per-lead maximum)."""

    wander_mv: float
    motion_mv: float
    muscle_mv: float
    floor_mv: float
    mains_mv: float


# Calibration of the parameters against the measure (threekg.synth.realism.features.noise_features):
# regressions of the measured levels on the parameters over the 125 NSR records of development seed 77,
# then one fixed-point step (gain x median measured / target level) on the same seed (docs/synth.md,
# Realism); "other" is what the measure finds with the parameter at zero (the ECG's own content in the
# band, the other noises), removed in quadrature.
WANDER_GAIN, WANDER_OTHER_MV = 0.37, 0.004
"""Measured ``wander_mv`` (median over leads of the s.d. below 0.5 Hz) per unit of the wander parameter."""
WANDER_P2P_RATIO = 5.0
"""Measured ``wander_p2p_mv`` (largest peak-to-peak below 0.5 Hz) per unit of measured ``wander_mv`` without
electrode motion; a target above it is made by one electrode-motion jump."""
MOTION_GAIN = 0.42
"""Measured extra peak-to-peak per mV of an electrode-motion jump (the 0.5 Hz low-pass takes off the rest)."""

MUSCLE_GAIN, MUSCLE_OTHER_MV = 0.47, 0.003
"""Measured ``muscle_mv`` (robust s.d. in 20-45 Hz) per unit of the muscle parameter; the ECG's own content."""
FLOOR_GAIN, FLOOR_OTHER_MV = 0.87, 0.0005
"""Measured ``hf_noise_mv`` (robust s.d. in 70-225 Hz) per unit of the white floor."""
MAINS_GAIN, MAINS_OTHER_MV = 0.69, 0.0004
"""Measured ``powerline_mv`` (median over leads of the 50/60 Hz amplitude) per unit of the mains parameter."""
MIN_MV = 1e-4


def noise_amplitudes(levels: dict[str, float]) -> NoiseAmplitudes:
    """The noise parameters that give about the measured ``levels`` (:data:`threekg.synth.levels.LEVELS`)."""
    def above(target: float, other: float, gain: float) -> float:
        return float(np.sqrt(max(target**2 - other**2, MIN_MV**2))) / gain

    floor = above(levels["hf_noise_mv"], FLOOR_OTHER_MV, FLOOR_GAIN)
    excess = levels["wander_p2p_mv"] - WANDER_P2P_RATIO * levels["wander_mv"]
    return NoiseAmplitudes(above(levels["wander_mv"], WANDER_OTHER_MV, WANDER_GAIN), max(excess, 0.0) / MOTION_GAIN,
                           above(levels["muscle_mv"], float(np.hypot(MUSCLE_OTHER_MV, 0.3 * floor)), MUSCLE_GAIN),
                           floor, above(levels["powerline_mv"], MAINS_OTHER_MV, MAINS_GAIN))


def _drawn_amplitudes(rng: np.random.Generator) -> NoiseAmplitudes:
    motion = rng.uniform(*MOTION_MV) if rng.random() < MOTION_PROBABILITY else 0.0
    return NoiseAmplitudes(rng.uniform(*WANDER_MV), motion, _log_uniform(rng, *MUSCLE_MV),
                           rng.uniform(*FLOOR_MV), _log_uniform(rng, *MAINS_MV))


def draw_noise(rng: np.random.Generator, fs: float, n: int, mains_hz: float,
               levels: dict[str, float] | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """Noise (12, T) float32 in mV and the parameters used: those that give about the measured ``levels``
    (:func:`noise_amplitudes`) or, without, drawn independently from the ranges above."""
    k = len(INDEPENDENT_INDEX)
    t = _time_axis(fs, n)
    amp = _drawn_amplitudes(rng) if levels is None else noise_amplitudes(levels)
    wander_mv, mains_mv, muscle_mv, floor_mv = amp.wander_mv, amp.mains_mv, amp.muscle_mv, amp.floor_mv
    # Wander: three components shared by the leads (breathing, movement), per-lead weights and phases.
    freqs = rng.uniform(*WANDER_HZ, 3)
    arg = (2 * np.pi * freqs[:, None]).astype(np.float32) * t
    basis = np.concatenate([np.sin(arg), np.cos(arg), _mains_basis(fs, n, mains_hz)])
    amps = rng.dirichlet([1.0, 1.0, 1.0], k) * wander_mv * rng.uniform(0.5, 1.0, (k, 1))
    phases = rng.uniform(0, 2 * np.pi, (k, 4))
    mains_amp = mains_mv * rng.uniform(0.3, 1.0, k)
    weights = np.concatenate([amps * np.cos(phases[:, :3]), amps * np.sin(phases[:, :3]),
                              (mains_amp * np.cos(phases[:, 3]))[:, None],
                              (mains_amp * np.sin(phases[:, 3]))[:, None]], axis=1)
    white = rng.standard_normal((2, k, n), dtype=np.float32)
    muscle = sosfilt(_muscle_filter(fs), white[0], axis=1).astype(np.float32)
    muscle *= np.float32(muscle_mv)
    muscle += np.float32(floor_mv) * white[1]
    noise = np.zeros((len(LEADS), n), dtype=np.float32)
    noise[list(INDEPENDENT_INDEX)] = weights.astype(np.float32) @ basis + muscle + \
        _electrode_motion(rng, fs, n, amp.motion_mv)
    drawn = {"wander_mv": wander_mv, "motion_mv": amp.motion_mv, "mains_mv": mains_mv, "muscle_mv": muscle_mv,
             "floor_mv": floor_mv, "mains_hz": mains_hz}
    return derive_limb_leads(noise), drawn
