"""Recording noise in lead space, Einthoven-consistent (drawn for I, II, V1-V6; III, aVR, aVL, aVF derived).

Levels per record, calibrated on the PTB-XL-500 NORM records with the realism measure (docs/synth.md):

* baseline wander: three sinusoids at 0.03-0.5 Hz shared by the leads, each lead with its own weights
  and phases, total amplitude up to 0.02-0.25 mV per lead;
* electrode motion: in 55 % of records 1-2 baseline jumps with exponential recovery (0.1-0.7 mV,
  0.3-1.5 s) on one electrode (RA, LA, LL or V1-V6), seen by every lead that uses that electrode
  (a limb electrode also moves the central terminal of V1-V6 by a third);
* muscle (EMG): Gaussian noise low-passed at 40 Hz (4th-order Butterworth), s.d. 5-22 uV before the
  filter (log-uniform), plus a white floor of 1-2 uV (the recorder's own noise);
* mains: the patient's 50 or 60 Hz, 0.3-3 uV per lead (log-uniform; most recorders filter it).
"""

from __future__ import annotations

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


def _electrode_motion(rng: np.random.Generator, fs: float, n: int) -> np.ndarray:
    """(8, T) baseline jumps with exponential recovery on random electrodes (zeros in most records)."""
    out = np.zeros((len(INDEPENDENT_INDEX), n), dtype=np.float32)
    events = rng.integers(1, 3) if rng.random() < MOTION_PROBABILITY else 0
    t = _time_axis(fs, n)
    for _ in range(events):
        electrode = int(rng.integers(len(ELECTRODES)))
        amp = rng.choice([-1.0, 1.0]) * rng.uniform(*MOTION_MV)
        t0, tau = rng.uniform(0.0, n / fs), rng.uniform(*MOTION_RECOVERY_S)
        after = np.clip(t - t0, 0.0, None)
        shape = (1.0 - np.exp(-after / 0.03)) * np.exp(-after / tau)  # 30 ms rise, then recovery
        out += (_ELECTRODE_TO_LEADS[electrode][:, None] * amp * shape[None, :]).astype(np.float32)
    return out


def draw_noise(rng: np.random.Generator, fs: float, n: int, mains_hz: float) -> tuple[np.ndarray, dict[str, float]]:
    """Noise (12, T) float32 in mV and the levels drawn."""
    k = len(INDEPENDENT_INDEX)
    t = _time_axis(fs, n)
    wander_mv = rng.uniform(*WANDER_MV)
    mains_mv = _log_uniform(rng, *MAINS_MV)
    muscle_mv = _log_uniform(rng, *MUSCLE_MV)
    floor_mv = rng.uniform(*FLOOR_MV)
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
    noise[list(INDEPENDENT_INDEX)] = weights.astype(np.float32) @ basis + muscle + _electrode_motion(rng, fs, n)
    levels = {"wander_mv": wander_mv, "mains_mv": mains_mv, "muscle_mv": muscle_mv, "floor_mv": floor_mv,
              "mains_hz": mains_hz}
    return derive_limb_leads(noise), levels
