"""The compiled window copy of :class:`threekg.train.data.CropDataset` (imported lazily: Numba).

One call copies every window of a batch out of the memory map; the Python loop it replaces spent
most of its time creating a memmap slice object per window (2 x batch of them a step).
"""

from __future__ import annotations

from typing import Any

import numba


@numba.njit(nogil=True, cache=True, boundscheck=False)
def copy_windows(signals: Any, records: Any, starts: Any, length: int, out: Any) -> None:  # pragma: no cover - compiled
    """``out[i, :, j*length:(j+1)*length] = signals[records[i], :, starts[i, j]:starts[i, j]+length]``.

    ``signals`` (N, L, T), ``records`` (n,) int64, ``starts`` (n, k) int64, ``out`` (n, L, k x length);
    the caller checks every window lies inside ``[0, T)`` (no bounds check here).
    """
    for i in range(records.shape[0]):
        r = records[i]
        for j in range(starts.shape[1]):
            s = starts[i, j]
            for lead in range(signals.shape[1]):
                src = signals[r, lead, s : s + length]
                dst = out[i, lead, j * length : (j + 1) * length]
                for t in range(length):
                    dst[t] = src[t]
