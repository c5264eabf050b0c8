"""Hostile headers and signal files: every case ends in a RecordError with a reason.

Never a crash (any other exception), a hang (hypothesis deadline), or an allocation the size of a lie
in the header (tracemalloc peak).
"""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threekg.data import RecordError, read_record
from threekg.data.mat4 import read_mat4
from threekg.leads import LEADS

SETTINGS = settings(
    max_examples=150,
    deadline=2000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MAX_PEAK_BYTES = 32 * 1024 * 1024  # reading a tiny file must never allocate more than this


def _mat4_bytes(val: np.ndarray, name: bytes = b"val", rows: int | None = None, cols: int | None = None) -> bytes:
    """A MATLAB v4 variable: header (type, mrows, ncols, imagf, namlen), name, column-major data."""
    mopt = {np.dtype("<i2"): 30, np.dtype("<f8"): 0, np.dtype("<f4"): 10}[val.dtype]
    r, c = val.shape
    head = struct.pack("<5i", mopt, rows if rows is not None else r, cols if cols is not None else c, 0, len(name) + 1)
    return head + name + b"\0" + np.asfortranarray(val).tobytes(order="F")


def _header(name: str, n_sig: int | str = 12, fs: str = "500", n_samp: str = "1000",
            gain: str = "1000/mV", fmt: str = "16", leads: list[str] | None = None,
            file_name: str | None = None) -> str:
    leads = leads if leads is not None else list(LEADS)
    fname = file_name or f"{name}.mat"
    lines = [f"{name} {n_sig} {fs} {n_samp}"]
    lines += [f"{fname} {fmt}+24 {gain} 16 0 0 0 0 {lead}" for lead in leads]
    lines += ["#Age: 50", "#Sex: Male", "#Dx: 426783006"]
    return "\n".join(lines) + "\n"


def _write_record(folder: Path, name: str, header: str, mat: bytes) -> Path:
    (folder / f"{name}.hea").write_text(header, encoding="utf-8")
    (folder / f"{name}.mat").write_bytes(mat)
    return folder / f"{name}.hea"


def _good_signal(n: int = 1000) -> np.ndarray:
    t = np.arange(n) / 500.0
    base = (np.sin(2 * np.pi * 1.2 * t) * 500).astype(np.int16)
    return np.stack([np.roll(base, 7 * i) for i in range(12)]).astype("<i2")


def _read_bounded(path: Path) -> None:
    """read_record must raise RecordError (or succeed) within a bounded allocation."""
    tracemalloc.start()
    try:
        read_record(path)
    except RecordError as exc:
        assert exc.reason and "\n" not in exc.reason
        assert str(path.parent) in str(exc) or path.name in str(exc) or path.stem in str(exc)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < MAX_PEAK_BYTES, f"peak allocation {peak / 1e6:.0f} MB reading a tiny file"


@SETTINGS
@given(st.binary(max_size=2048))
def test_arbitrary_header_bytes(tmp_path: Path, data: bytes) -> None:
    hea = tmp_path / "r.hea"
    hea.write_bytes(data)
    (tmp_path / "r.mat").write_bytes(_mat4_bytes(_good_signal()))
    _read_bounded(hea)


@SETTINGS
@given(st.binary(max_size=4096))
def test_arbitrary_mat_bytes(tmp_path: Path, data: bytes) -> None:
    hea = _write_record(tmp_path, "r", _header("r"), data)
    _read_bounded(hea)
    (tmp_path / "x.mat").write_bytes(data)
    with pytest.raises(RecordError):
        arr = read_mat4(tmp_path / "x.mat")
        # a random blob that happens to parse must still not be a 12-lead int16 `val` matrix
        if arr.shape[0] != 12:
            raise RecordError(tmp_path / "x.mat", "not 12 leads")


@SETTINGS
@given(
    n_sig=st.one_of(st.integers(-5, 10**9).map(str), st.sampled_from(["", "x", "1e9", "12.5"])),
    fs=st.one_of(st.sampled_from(["0", "-500", "nan", "inf", "1e308", "", "500/2"]),
                 st.floats(allow_nan=True).map(repr)),
    n_samp=st.one_of(st.integers(-10, 2**62).map(str), st.sampled_from(["", "nan", "1e20"])),
    gain=st.sampled_from(["0/mV", "-1000/mV", "nan/mV", "inf/mV", "1000(99999999999)/mV", "1000/furlong",
                          "1000.0(0)/mV", "1e-320/mV", "/mV", "1000(0/mV"]),
    fmt=st.sampled_from(["16", "212", "8", "16x999999999", "0", "-16", "999", "16x0", "abc"]),
)
def test_lying_headers(tmp_path: Path, n_sig: str, fs: str, n_samp: str, gain: str, fmt: str) -> None:
    hea = _write_record(tmp_path, "r", _header("r", n_sig, fs, n_samp, gain, fmt), _mat4_bytes(_good_signal()))
    _read_bounded(hea)


@SETTINGS
@given(leads=st.lists(st.text(min_size=0, max_size=12), min_size=0, max_size=20))
def test_non_ascii_and_missing_lead_names(tmp_path: Path, leads: list[str]) -> None:
    leads = [lead.replace("\n", " ").replace("\r", " ") for lead in leads]
    hea = _write_record(tmp_path, "r", _header("r", len(leads), leads=leads), _mat4_bytes(_good_signal()))
    _read_bounded(hea)


@pytest.mark.parametrize(
    ("rows", "cols"),
    [(12, 2**31 - 1), (2**31 - 1, 2**31 - 1), (12, -5), (-12, 1000), (0, 0), (10**6, 10**6)],
)
def test_mat_declaring_enormous_sizes_with_a_tiny_file(tmp_path: Path, rows: int, cols: int) -> None:
    data = _mat4_bytes(_good_signal(50), rows=rows, cols=cols)
    hea = _write_record(tmp_path, "r", _header("r", n_samp="50"), data)
    with pytest.raises(RecordError):
        read_record(hea)
    _read_bounded(hea)


def test_header_declaring_enormous_length_with_tiny_dat(tmp_path: Path) -> None:
    header = _header("r", n_samp=str(2**40), file_name="r.dat", fmt="16").replace("16+24", "16")
    (tmp_path / "r.hea").write_text(header)
    (tmp_path / "r.dat").write_bytes(b"\0\1" * 24)
    _read_bounded(tmp_path / "r.hea")
    with pytest.raises(RecordError):
        read_record(tmp_path / "r.hea")


def test_truncated_mat_every_prefix(tmp_path: Path) -> None:
    full = _mat4_bytes(_good_signal(40))
    hea = _write_record(tmp_path, "r", _header("r", n_samp="40"), full)
    assert read_record(hea).signal.shape == (12, 40)  # the full file is good
    for cut in list(range(0, 64)) + list(range(64, len(full), 97)):
        (tmp_path / "r.mat").write_bytes(full[:cut])
        with pytest.raises(RecordError) as exc:
            read_record(hea)
        assert exc.value.reason


def test_missing_signal_file_and_unreadable_header(tmp_path: Path) -> None:
    (tmp_path / "r.hea").write_text(_header("r"))
    with pytest.raises(RecordError, match="r"):
        read_record(tmp_path / "r.hea")
    with pytest.raises(RecordError):
        read_record(tmp_path / "absent.hea")
    (tmp_path / "dir.hea").mkdir()
    with pytest.raises(RecordError):
        read_record(tmp_path / "dir.hea")
