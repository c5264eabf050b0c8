"""Recording noise in lead space, Einthoven-consistent (drawn for I, II, V1-V6; III, aVR, aVL, aVF derived).

Levels (per record, drawn uniformly):

* baseline wander: three sinusoids at 0.05-0.5 Hz shared by the leads, each lead with its own weights
  and phases, total amplitude up to 0.02-0.25 mV per lead;
* mains: the patient's 50 or 60 Hz, 0-0.02 mV per lead;
* muscle (EMG): white Gaussian noise up to Nyquist, standard deviation 0.002-0.02 mV.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from threekg.leads import INDEPENDENT_INDEX, LEADS
from threekg.vcg import derive_limb_leads

WANDER_HZ = (0.05, 0.5)
WANDER_MV = (0.02, 0.25)
MAINS_MV = (0.0, 0.02)
MUSCLE_MV = (0.002, 0.02)


@lru_cache(maxsize=8)
def _time_axis(fs: float, n: int) -> np.ndarray:
    return (np.arange(n) / fs).astype(np.float32)


@lru_cache(maxsize=8)
def _mains_basis(fs: float, n: int, hz: float) -> np.ndarray:
    arg = 2 * np.pi * hz * np.arange(n) / fs
    return np.stack([np.sin(arg), np.cos(arg)]).astype(np.float32)


def draw_noise(rng: np.random.Generator, fs: float, n: int, mains_hz: float) -> tuple[np.ndarray, dict[str, float]]:
    """Noise (12, T) float32 in mV and the levels drawn."""
    k = len(INDEPENDENT_INDEX)
    t = _time_axis(fs, n)
    wander_mv = rng.uniform(*WANDER_MV)
    mains_mv = rng.uniform(*MAINS_MV)
    muscle_mv = rng.uniform(*MUSCLE_MV)
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
    muscle = rng.standard_normal((k, n), dtype=np.float32)
    muscle *= np.float32(muscle_mv)
    noise = np.zeros((len(LEADS), n), dtype=np.float32)
    noise[list(INDEPENDENT_INDEX)] = weights.astype(np.float32) @ basis + muscle
    levels = {"wander_mv": wander_mv, "mains_mv": mains_mv, "muscle_mv": muscle_mv, "mains_hz": mains_hz}
    return derive_limb_leads(noise), levels
