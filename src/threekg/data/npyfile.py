"""Low-level ``.npy`` helpers for the streaming writer: pre-allocate, write rows, shrink in place."""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import BinaryIO

import numpy as np


def allocate(path: Path, n: int, row_shape: tuple[int, ...], dtype: str) -> int:
    """Create a (sparse) ``.npy`` of ``n`` rows; returns the header length in bytes."""
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.dtype(dtype), shape=(n, *row_shape))
    offset = int(mm.offset)
    del mm
    return offset


def read_header(fh: BinaryIO) -> tuple[tuple[int, int], tuple[int, ...], bool, np.dtype]:
    """(version, shape, fortran_order, dtype) of the ``.npy`` stream at ``fh`` (left after the header)."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    return version, tuple(int(s) for s in shape), bool(fortran), np.dtype(dtype)


def header_length(path: Path) -> int:
    with open(path, "rb") as fh:
        read_header(fh)
        return fh.tell()


def write_rows(path: Path, header_len: int, start: int, rows: np.ndarray) -> None:
    """Write ``rows`` at row index ``start`` (positioned write; no memory map in the parent)."""
    row_bytes = int(np.prod(rows.shape[1:])) * rows.dtype.itemsize
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, np.ascontiguousarray(rows).tobytes(), header_len + start * row_bytes)
    finally:
        os.close(fd)


def shrink(path: Path, n: int) -> None:
    """Set the row count of a ``.npy`` to ``n`` (<= its current count) and truncate the file.

    The header keeps its length (padding with spaces), so the data need not move. Idempotent.
    """
    with open(path, "r+b") as fh:
        start = 8  # magic (6 bytes) + version (2 bytes)
        version, shape, fortran, dtype = read_header(fh)
        end = fh.tell()
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": fortran,
                  "shape": (n, *shape[1:])}
        text = repr(header)
        len_bytes = 2 if version == (1, 0) else 4
        room = end - start - len_bytes
        if len(text) + 1 > room:
            raise ValueError(f"{path}: new header does not fit")
        fh.seek(start + len_bytes)
        fh.write((text + " " * (room - len(text) - 1) + "\n").encode("latin-1"))
        row_bytes = int(np.prod(shape[1:])) * dtype.itemsize
        fh.truncate(end + n * row_bytes)
    assert ast.literal_eval(text)["shape"][0] == n
