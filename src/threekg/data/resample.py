"""Resampling to the target rate (anti-aliased polyphase) and fixing the length."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly


def rational_ratio(fs_in: float, fs_out: float, max_denominator: int = 10_000) -> tuple[int, int]:
    """``(up, down)`` with ``fs_out / fs_in == up / down`` (exactly for rates like 257 -> 500)."""
    ratio = (Fraction(str(fs_out)) / Fraction(str(fs_in))).limit_denominator(max_denominator)
    return ratio.numerator, ratio.denominator


def resample(signal: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Polyphase resampling (``scipy.signal.resample_poly``, Kaiser-windowed anti-alias filter).

    Args:
        signal: (leads, samples) at ``fs_in`` Hz. Returns (leads, ceil(samples * up / down)) at ``fs_out``.
    """
    up, down = rational_ratio(fs_in, fs_out)
    if up == down:
        return signal
    return resample_poly(signal, up, down, axis=-1)


def fix_length(signal: np.ndarray, fs_in: float, fs_out: float, n_out: int, short: str) -> np.ndarray:
    """Resample and crop to the first ``n_out`` samples (zero-pad at the end when ``short='pad'``).

    Only the first ``n_out`` output samples plus a 1 s margin of input are resampled, so a 30-minute
    record costs no more than a 10-second one. Raises ValueError("too short: ...") when the record
    is shorter than ``n_out`` and ``short='reject'``.
    """
    up, down = rational_ratio(fs_in, fs_out)
    n_in = signal.shape[-1]
    n_resampled = math.ceil(n_in * up / down)
    if n_resampled < n_out and short == "reject":
        raise ValueError(f"too short: {n_in / fs_in:.2f} s < {n_out / fs_out:g} s")
    keep = min(n_in, math.ceil(n_out * down / up) + math.ceil(fs_in))
    out = resample(signal[..., :keep], fs_in, fs_out)[..., :n_out]
    if out.shape[-1] < n_out:
        out = np.concatenate([out, np.zeros((*out.shape[:-1], n_out - out.shape[-1]), out.dtype)], axis=-1)
    return out
