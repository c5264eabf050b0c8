"""A reader for MATLAB level-4 (``.mat`` v4) files, as written by the PhysioNet/CinC Challenges.

Each variable is a 20-byte header (type, rows, columns, imaginary flag, name length), the name,
then the data in column-major order. Declared sizes are checked against the real file size
before anything is allocated, so a lying header raises :class:`RecordError` instead of
allocating what it claims.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from threekg.data.errors import RecordError

_PRECISION = {0: "f8", 1: "f4", 2: "i4", 3: "i2", 4: "u2", 5: "u1"}
MAX_NAME = 4096
MAX_VARIABLES = 64


def read_mat4(path: str | Path, variable: str = "val") -> np.ndarray:
    """Read ``variable`` from a MATLAB v4 file.

    Returns:
        array (rows, columns) in the file's numeric type (int16 for challenge records: 12 x N).

    Raises:
        RecordError: unreadable or truncated file, not MATLAB v4, or no such variable.
    """
    path = Path(path)
    try:
        size = os.path.getsize(path)
        fh = open(path, "rb")
    except OSError as exc:
        raise RecordError(path, f"cannot read signal file ({exc.strerror or type(exc).__name__})") from None
    with fh:
        pos = 0
        for _ in range(MAX_VARIABLES):
            if pos >= size:
                break
            fh.seek(pos)
            head = fh.read(20)
            if len(head) < 20:
                raise RecordError(path, "MATLAB v4 file is truncated (incomplete variable header)")
            endian = "<"
            words = np.frombuffer(head, dtype="<i4")
            if not 0 <= int(words[0]) <= 4052:
                endian = ">"
                words = np.frombuffer(head, dtype=">i4")
            mopt, rows, cols, imag, namlen = (int(w) for w in words)
            if not 0 <= mopt <= 4052 or mopt // 1000 not in (0, 1) or (mopt // 100) % 10 != 0:
                raise RecordError(path, "not a MATLAB v4 file (bad type field)")
            if (mopt // 1000 == 0) != (endian == "<"):
                raise RecordError(path, "not a MATLAB v4 file (byte order mismatch)")
            precision, kind = (mopt // 10) % 10, mopt % 10
            if precision not in _PRECISION or kind != 0:
                raise RecordError(path, f"unsupported MATLAB v4 matrix type {mopt}")
            if rows < 0 or cols < 0 or not 1 <= namlen <= MAX_NAME:
                raise RecordError(path, "not a MATLAB v4 file (bad dimensions or name length)")
            dtype = np.dtype(endian + _PRECISION[precision])
            count = rows * cols
            n_bytes = count * dtype.itemsize * (2 if imag else 1)
            name_raw = fh.read(namlen)
            if len(name_raw) < namlen:
                raise RecordError(path, "MATLAB v4 file is truncated (incomplete variable name)")
            name = name_raw.split(b"\x00", 1)[0].decode("latin-1")
            data_pos = pos + 20 + namlen
            if data_pos + n_bytes > size:
                raise RecordError(
                    path,
                    f"MATLAB v4 file is truncated: variable {name!r} declares {rows}x{cols} "
                    f"({n_bytes} bytes) but the file has {max(size - data_pos, 0)}",
                )
            if name == variable:
                if imag:
                    raise RecordError(path, f"variable {name!r} is complex")
                data = np.fromfile(fh, dtype=dtype, count=count)
                if data.size != count:
                    raise RecordError(path, "MATLAB v4 file is truncated")
                return data.reshape(cols, rows).T
            pos = data_pos + n_bytes
    raise RecordError(path, f"MATLAB v4 file has no variable {variable!r}")
