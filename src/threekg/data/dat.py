"""A vectorised reader for WFDB ``.dat`` signal files (formats 16, 212, 80, 24, 32 and 61).

Samples of the signals stored in one file are interleaved frame by frame. The declared size is
checked against the file's real size before anything is allocated.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from threekg.data.errors import RecordError

BYTES_PER_SAMPLE = {16: 2.0, 61: 2.0, 212: 1.5, 80: 1.0, 24: 3.0, 32: 4.0}
"""Bytes per sample of each supported format."""
INVALID_SAMPLE = {16: -(1 << 15), 61: -(1 << 15), 212: -(1 << 11), 80: -(1 << 7), 24: -(1 << 23),
                  32: -(1 << 31)}
"""The WFDB "invalid sample" (missing data) value of each format."""


def n_bytes_for(fmt: int, n_values: int) -> int:
    """Bytes that ``n_values`` samples occupy in format ``fmt``."""
    return math.ceil(n_values * BYTES_PER_SAMPLE[fmt])


def read_dat(path: str | Path, fmt: int, n_signals: int, n_samples: int | None,
             byte_offset: int = 0) -> np.ndarray:
    """Read a WFDB signal file.

    Args:
        fmt: WFDB storage format (16, 212, 80, 24, 32 or 61).
        n_signals: signals interleaved in this file.
        n_samples: samples per signal declared by the header (``None``: infer from the file size).

    Returns:
        array (n_samples, n_signals) int32 of digital values.

    Raises:
        RecordError: unsupported format, unreadable file, or a file size that disagrees with the header.
    """
    path = Path(path)
    if fmt not in BYTES_PER_SAMPLE:
        raise RecordError(path, f"unsupported signal format {fmt}")
    if n_signals < 1:
        raise RecordError(path, "no signals in signal file")
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise RecordError(path, f"cannot read signal file ({exc.strerror or type(exc).__name__})") from None
    available = size - byte_offset
    if available < 0:
        raise RecordError(path, f"signal file is truncated: {size} bytes, byte offset {byte_offset}")
    if n_samples is None:
        n_samples = int(available // (BYTES_PER_SAMPLE[fmt] * n_signals))
    n_values = n_samples * n_signals
    needed = n_bytes_for(fmt, n_values)
    if available < needed:
        raise RecordError(
            path, f"signal file is truncated: header declares {n_samples} samples x {n_signals} signals "
            f"({needed} bytes), file has {available}")
    slack = 1 if fmt == 212 else 0
    if available > needed + slack:
        raise RecordError(
            path, f"signal file is longer than the header declares: {available} bytes, "
            f"expected {needed} ({n_samples} samples x {n_signals} signals)")
    try:
        with open(path, "rb") as fh:
            fh.seek(byte_offset)
            raw = np.fromfile(fh, dtype=np.uint8, count=needed)
    except OSError as exc:
        raise RecordError(path, f"cannot read signal file ({exc.strerror or type(exc).__name__})") from None
    if raw.size != needed:
        raise RecordError(path, "signal file is truncated (short read)")
    values = _decode(raw, fmt, n_values)
    return values.reshape(n_samples, n_signals)


def _decode(raw: np.ndarray, fmt: int, n_values: int) -> np.ndarray:
    if fmt == 16:
        return raw.view("<i2").astype(np.int32)
    if fmt == 61:
        return raw.view(">i2").astype(np.int32)
    if fmt == 32:
        return raw.view("<i4").astype(np.int32)
    if fmt == 80:
        return raw.astype(np.int32) - 128
    if fmt == 24:
        b = raw.reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        return np.where(v >= 1 << 23, v - (1 << 24), v)
    # 212: two 12-bit samples in three bytes; the second byte holds the high nibbles.
    padded = np.zeros(math.ceil(n_values / 2) * 3, dtype=np.int32)
    padded[: raw.size] = raw
    b = padded.reshape(-1, 3)
    first = b[:, 0] | ((b[:, 1] & 0x0F) << 8)
    second = b[:, 2] | ((b[:, 1] & 0xF0) << 4)
    out = np.empty(b.shape[0] * 2, dtype=np.int32)
    out[0::2], out[1::2] = first, second
    out = out[:n_values]
    return np.where(out >= 1 << 11, out - (1 << 12), out)
