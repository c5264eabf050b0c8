"""The written CinC-2020-style tree: format, round trip through wfdb and threekg.data, resume, workers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import wfdb

from threekg.leads import LEADS
from threekg.synth import generate_records
from threekg.synth.challenge import record_path, write_challenge_tree

SEED = 4


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_challenge_tree(tmp_path_factory.mktemp("syn") / "out", n=70, seed=SEED, workers=1, progress=False)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_header_follows_the_challenge_format(tree: Path) -> None:
    lines = (tree / "g1" / "SYN000001.hea").read_text().splitlines()
    assert lines[0] == "SYN000001 12 500 5000"
    for line, lead in zip(lines[1:13], LEADS, strict=True):
        f = line.split()
        assert f[:5] == ["SYN000001.mat", "16+24", "1000/mV", "16", "0"] and f[7] == "0" and f[8] == lead
    comments = lines[13:]
    keys = [c.split(":")[0] for c in comments]
    assert keys == ["#Age", "#Sex", "#Dx", "#Rx", "#Hx", "#Sx", "#Patient"]
    assert comments[1] in ("#Sex: Male", "#Sex: Female")
    assert all(code.isdigit() for code in comments[2].split(": ")[1].split(","))
    assert comments[6] == "#Patient: SYNP000001"


def test_mat_is_int16_and_checksums_and_first_values_are_right(tree: Path) -> None:
    base = record_path(tree, 3)
    val = scipy.io.loadmat(str(base.with_suffix(".mat")))["val"]
    assert val.dtype == np.int16 and val.shape == (12, 5000)
    fields = [line.split() for line in base.with_suffix(".hea").read_text().splitlines()[1:13]]
    for row, f in zip(val, fields, strict=True):
        total = int(row.astype(np.int64).sum()) % 65536
        assert int(f[6]) == (total - 65536 if total >= 32768 else total)
        assert int(f[5]) == int(row[0])
    rec = wfdb.rdrecord(str(base), physical=False)
    assert [c % 65536 for c in rec.checksum] == [c % 65536 for c in rec.calc_checksum()]


def test_round_trip_through_wfdb_and_threekg_data(tree: Path) -> None:
    from threekg.data import read_record

    ecg, meta = generate_records([0, 5, 69], seed=SEED)
    for signal, m in zip(ecg, meta, strict=True):
        base = record_path(tree, m["index"])
        rec = wfdb.rdrecord(str(base))
        assert rec.fs == 500 and rec.sig_name == list(LEADS)
        assert np.abs(rec.p_signal.T - signal).max() <= 0.0005 + 1e-9  # 1 uV quantisation
        ours = read_record(str(base.with_suffix(".hea")))
        assert np.abs(ours.signal - signal).max() <= 0.0005 + 1e-9
        assert ours.codes == m["codes"] and ours.sex[0] == m["sex"][0]
        d = rec.p_signal.T
        assert np.abs(d[2] - (d[1] - d[0])).max() <= 0.0015  # Einthoven after quantisation
    assert (tree / "g1").is_dir() and len(list((tree / "g1").glob("*.hea"))) == 70


def test_output_independent_of_workers_and_resumable(tree: Path, tmp_path: Path) -> None:
    other = write_challenge_tree(tmp_path / "w2", n=70, seed=SEED, workers=2, progress=False)
    assert _files(other) == _files(tree)
    # interrupt: remove a few records (and leave a stray half-written .mat), then resume
    for i in (1, 64, 69):
        record_path(other, i).with_suffix(".hea").unlink()
    record_path(other, 64).with_suffix(".mat").write_bytes(b"partial")
    write_challenge_tree(other, n=70, seed=SEED, workers=1, progress=False)
    assert _files(other) == _files(tree)


def test_resume_refuses_different_options(tree: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy)
    with pytest.raises(ValueError, match=r"synth\.json"):
        write_challenge_tree(copy, n=70, seed=SEED + 1, workers=1, progress=False)
    with pytest.raises(ValueError, match=r"synth\.json"):
        write_challenge_tree(copy, n=70, seed=SEED, workers=1, progress=False, prevalence={"AF": 0.5})


def test_cli_writes_a_tree(tmp_path: Path) -> None:
    from threekg.cli.main import main

    assert main(["synth", str(tmp_path / "cli"), "--n", "3", "--seed", "1", "--workers", "1", "--no-progress"]) == 0
    assert sorted(p.name for p in (tmp_path / "cli" / "g1").glob("*.hea")) == [
        "SYN000001.hea", "SYN000002.hea", "SYN000003.hea"]
    assert main(["synth", str(tmp_path / "afl"), "--n", "2", "--prevalence", "AFL=1", "--workers", "1",
                 "--no-progress"]) == 0
    info = json.loads((tmp_path / "afl" / "synth.json").read_text())
    assert info["rhythm_prevalence"]["AFL"] == 1.0
    assert all("164890007" in p.read_text() for p in (tmp_path / "afl" / "g1").glob("*.hea"))  # AFL's code
    assert main(["synth", str(tmp_path / "bad"), "--n", "2", "--prevalence", "AFX=1"]) == 2
