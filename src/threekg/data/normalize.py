"""Per-recording input scaling shared by pretraining and evaluation (``data.normalize``).

``none``: millivolts as prepared. ``minmax``: each recording divided by one scalar, ``max - min`` over
all 12 leads and the whole recording (the 3KG reference code's 1/(max - min)); one scalar per
recording keeps the relations between leads, hence the heart vector. An encoder pretrained with
``minmax`` stores it in its metadata (``input.normalize``) and evaluation applies the same.
"""

from __future__ import annotations

import numpy as np

NORMALIZATIONS = ("none", "minmax")


def recording_scale(recordings: np.ndarray) -> np.ndarray:
    """(N,) float32 ``max - min`` of each whole recording of ``recordings`` (N, 12, T).

    A flat recording (span 0) gets 1 (left as it is); a recording holding NaN/inf gets NaN (callers
    check for it). The difference is taken in float64, then rounded once to float32.
    """
    x = np.asarray(recordings)
    span = (x.max(axis=(1, 2)).astype(np.float64) - x.min(axis=(1, 2)).astype(np.float64)).astype(np.float32)
    return np.where(np.isfinite(span) & (span <= 0), np.float32(1.0), span)


def normalize_recordings(recordings: np.ndarray, method: str) -> np.ndarray:
    """``recordings`` (N, 12, T) scaled by ``method`` (a new float32 array; ``none`` returns float32 as is)."""
    if method not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {method!r}")
    x = np.asarray(recordings, dtype=np.float32)
    if method == "none":
        return x
    return x / recording_scale(x)[:, None, None]
