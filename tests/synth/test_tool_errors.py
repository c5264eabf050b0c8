"""The python -m developer tools of threekg.synth: bad input ends with one line naming it, exit 2,
and nothing already on disk is touched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from threekg.errors import run_tool
from threekg.synth import calibrate, shape_model
from threekg.synth.realism import folds


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    return err[0]


def test_shape_model_build_of_a_missing_folder_keeps_the_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model.npz"
    out.write_bytes(b"an earlier model")
    before = hashlib.sha256(out.read_bytes()).hexdigest()
    rc = run_tool(lambda: shape_model.main(["build", str(tmp_path / "nowhere"), "--out", str(out)]))
    assert rc == 2
    assert "ptbxl_database.csv" in _one_error_line(capsys)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_bad_fold_option_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_tool(lambda: shape_model.main(["build", str(tmp_path), "--folds", "1,x"])) == 2
    assert "--folds '1,x'" in _one_error_line(capsys)
    assert run_tool(lambda: folds.main([str(tmp_path), str(tmp_path), "--held-out", "8;9"])) == 2
    assert "--held-out '8;9'" in _one_error_line(capsys)


def test_folds_and_calibrate_name_the_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_tool(lambda: folds.main([str(tmp_path), str(tmp_path)])) == 2
    assert "features_synth.csv" in _one_error_line(capsys)
    bad = tmp_path / "features_real.csv"
    bad.write_text("record,hr_bpm\nA,60\n")
    assert run_tool(lambda: calibrate.main([str(bad)])) == 2
    assert f"{bad}: no column p_amp_mv_I" in _one_error_line(capsys)


def test_a_saved_model_replaces_the_file_atomically(tmp_path: Path) -> None:
    out = tmp_path / "model.npz"
    out.write_bytes(b"old")
    shape_model.save(shape_model.default_model(), out)
    assert shape_model.load(out).n_records == shape_model.default_model().n_records
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
