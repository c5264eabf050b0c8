"""Header parser, MAT v4 / .dat readers and read_record: quirks accepted, bad input rejected with a reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_fixtures import ecg_like, write_record

from threekg.data import RecordError, read_record
from threekg.data.dat import read_dat
from threekg.data.wfdb_header import parse_age, parse_codes, parse_header
from threekg.leads import LEADS


def test_quirky_header_is_read(tmp_path: Path) -> None:
    sig = ecg_like(3000, 500, seed=1)
    names = [n.lower() if i % 2 else n.upper() for i, n in enumerate(LEADS)]
    gains = [1000.0 + 100 * i for i in range(12)]
    baselines = [i * 7 - 30 for i in range(12)]
    hea = write_record(tmp_path, "Q1", sig, n=3000, names=names, gains=gains, baselines=baselines, units="mv",
                       comments=("#Age: NaN", "#Sex: male", "#Dx: 164889003,,426783006,164889003,"))
    rec = read_record(hea)
    quantum = 0.5 / np.array(gains)[:, None]
    assert np.all(np.abs(rec.signal - sig) <= quantum + 1e-12)
    assert rec.age is None and rec.sex == "M" and rec.codes == ["164889003", "426783006"] and rec.has_dx
    assert rec.fs == 500 and rec.n_samples == 3000


def test_microvolt_units_and_dat(tmp_path: Path) -> None:
    sig = ecg_like(1000, 250)
    hea = write_record(tmp_path, "U1", sig * 1000, fs=250, n=1000, gains=[1.0] * 12, units="uV", ext="dat")
    np.testing.assert_allclose(read_record(hea).signal, sig, atol=1e-3)


def test_lead_order_is_by_name(tmp_path: Path) -> None:
    sig = ecg_like(1000, 500)
    order = list(range(11, -1, -1))
    hea = write_record(tmp_path, "R1", sig[order], n=1000, names=[LEADS[i] for i in order])
    np.testing.assert_allclose(read_record(hea).signal, sig, atol=1e-3)


def test_extra_signals_are_ignored(tmp_path: Path) -> None:
    sig = np.concatenate([ecg_like(1000, 500), ecg_like(1000, 500, seed=3)[:3]])
    hea = write_record(tmp_path, "X1", sig, n=1000, names=[*LEADS, "vx", "vy", "vz"])
    np.testing.assert_allclose(read_record(hea).signal, sig[:12], atol=1e-3)


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"gains": [1000.0] * 11 + [0.0]}, "lead V6: zero gain"),
    ({"names": [*LEADS[:11], "X9"]}, "missing lead(s) V6 (signals: "),
    ({"names": [*LEADS[:11], "V5"]}, "duplicate lead V5"),
    ({"header_n": 6000}, "header declares 6000 samples, Z.mat has 5000"),
    ({"header_nsig": 13}, "header declares 13 signals but lists 12"),
    ({"units": "NU"}, "lead I: unsupported units 'NU'"),
])
def test_bad_header_reasons(tmp_path: Path, kwargs: dict, reason: str) -> None:
    hea = write_record(tmp_path, "Z", **kwargs)
    with pytest.raises(RecordError) as err:
        read_record(hea)
    assert err.value.reason.startswith(reason)
    assert str(err.value).startswith(str(hea))


def test_truncated_and_long_signal_files(tmp_path: Path) -> None:
    hea = write_record(tmp_path, "T", ext="dat")
    dat = tmp_path / "T.dat"
    full = dat.read_bytes()
    dat.write_bytes(full[:-100])
    with pytest.raises(RecordError, match="signal file is truncated: header declares 5000 samples x 12 signals"):
        read_record(hea)
    dat.write_bytes(full + b"\x00" * 24)
    with pytest.raises(RecordError, match="signal file is longer than the header declares"):
        read_record(hea)
    hea2 = write_record(tmp_path, "M")
    mat = tmp_path / "M.mat"
    mat.write_bytes(mat.read_bytes()[:500])
    with pytest.raises(RecordError, match="MATLAB v4 file is truncated"):
        read_record(hea2)


def test_value_checks(tmp_path: Path) -> None:
    sig = ecg_like(2000, 500)
    sig[3] = 0.0
    with pytest.raises(RecordError, match=r"^.*: flat lead\(s\) aVR \(peak-to-peak < 0.01 mV\)$"):
        read_record(write_record(tmp_path, "F", sig, n=2000))
    dig = np.round(ecg_like(2000, 500) * 1000).astype(np.int16)
    dig[7, 10] = 30000
    with pytest.raises(RecordError, match=r"lead V2: absurd amplitude 30.0 mV \(limit 20\)"):
        read_record(write_record(tmp_path, "A", digital=dig))
    dig[7, 10] = -32768
    with pytest.raises(RecordError, match=r"lead V2: 1 invalid \(missing\) samples"):
        read_record(write_record(tmp_path, "B", digital=dig))


def test_hostile_sizes_do_not_allocate(tmp_path: Path) -> None:
    hea = write_record(tmp_path, "H", ext="dat", header_n=2_000_000_000)
    with pytest.raises(RecordError, match="signal file is truncated"):
        read_record(hea)
    mat = tmp_path / "big.mat"
    mat.write_bytes(np.array([30, 12, 2_000_000_000, 0, 4], dtype="<i4").tobytes() + b"val\x00" + b"\x00" * 64)
    from threekg.data.mat4 import read_mat4
    with pytest.raises(RecordError, match="MATLAB v4 file is truncated: variable 'val' declares"):
        read_mat4(mat)


def test_dat_formats_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    v = rng.integers(-2000, 2000, size=(7, 3))
    raw = v.astype("<i4").tobytes()
    (tmp_path / "a32.dat").write_bytes(raw)
    np.testing.assert_array_equal(read_dat(tmp_path / "a32.dat", 32, 3, 7), v)
    b = v.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    (tmp_path / "a24.dat").write_bytes(b)
    np.testing.assert_array_equal(read_dat(tmp_path / "a24.dat", 24, 3, 7), v)
    (tmp_path / "a80.dat").write_bytes((np.clip(v, -100, 100) + 128).astype(np.uint8).tobytes())
    np.testing.assert_array_equal(read_dat(tmp_path / "a80.dat", 80, 3, 7), np.clip(v, -100, 100))


def test_format_212_against_wfdb(tmp_path: Path) -> None:
    wfdb = pytest.importorskip("wfdb")
    rng = np.random.default_rng(1)
    d = rng.integers(-2000, 2000, size=(101, 12)).astype(np.int32)
    wfdb.wrsamp("f212", fs=500, units=["mV"] * 12, sig_name=list(LEADS), d_signal=d, fmt=["212"] * 12,
                adc_gain=[200.0] * 12, baseline=[0] * 12, write_dir=str(tmp_path))
    np.testing.assert_array_equal(read_dat(tmp_path / "f212.dat", 212, 12, 101), d)
    ref = wfdb.rdrecord(str(tmp_path / "f212")).p_signal.T
    np.testing.assert_allclose(read_record(tmp_path / "f212").signal, ref, atol=1e-12)


def test_parse_helpers() -> None:
    assert parse_codes(" 1, 2,,2 ,3,") == ["1", "2", "3"]
    assert parse_age("NaN") is None and parse_age("74") == 74.0 and parse_age("Unknown") is None


def test_header_garbage(tmp_path: Path) -> None:
    p = tmp_path / "g.hea"
    for text, reason in [("", "header has no record line"), ("g 12", "header gives no sampling frequency"),
                         ("g x 500", "bad signal count 'x'"), ("g/2 2 500", "multi-segment records are not supported"),
                         ("g 1 500 10\n../x.dat 16 1000 16 0 0 0 0 I", "signal file name must be a plain name")]:
        p.write_text(text)
        with pytest.raises(RecordError) as err:
            parse_header(p)
        assert err.value.reason.startswith(reason), err.value.reason
