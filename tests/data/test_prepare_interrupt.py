"""threekg prepare: Ctrl-C (SIGINT) mid-run and re-run; --dtype float16 end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import write_record

from threekg.data import open_dataset, prepare


@pytest.mark.slow  # two CLI start-ups (the CLI imports torch) and a forkserver pool: ~30-60 s
def test_sigint_stops_cleanly_and_rerun_is_byte_identical(tmp_path: Path) -> None:
    for i in range(60):
        write_record(tmp_path / "src", f"K{i:03d}", n=2000, seed=i)
    cmd = [sys.executable, "-m", "threekg.cli.main", "prepare", str(tmp_path / "src"), "--out",
           str(tmp_path / "int"), "--fs", "1000", "--workers", "2", "--seconds", "4"]
    env = {**os.environ, "THREEKG_PREPARE_CHUNK": "2"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal = tmp_path / "int" / ".partial" / "journal.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not journal.exists() or len(journal.read_text().splitlines()) < 2):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted; re-run the same command to resume" in err
    assert not (tmp_path / "int" / "manifest.json").exists()
    done = len(journal.read_text().splitlines())
    assert 2 <= done < 30, "the run was not interrupted mid-way"
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert "60 records accepted, 0 rejected" in rerun.stdout
    prepare(tmp_path / "src", tmp_path / "clean", fs=1000, seconds=4, workers=1, progress=False)
    for name in ("signals.npy", "labels.npy", "records.csv", "rejected.csv", "manifest.json"):
        assert (tmp_path / "int" / name).read_bytes() == (tmp_path / "clean" / name).read_bytes(), name


def test_float16_end_to_end(tmp_path: Path) -> None:
    for i in range(5):
        write_record(tmp_path / "src", f"H{i}", fs=257, n=3000, seed=i, gains=[200.0 + 50 * k for k in range(12)])
    prepare(tmp_path / "src", tmp_path / "f32", fs=100, workers=1, progress=False)
    prepare(tmp_path / "src", tmp_path / "f16", fs=100, workers=1, progress=False, dtype="float16")
    a, b = open_dataset(tmp_path / "f32"), open_dataset(tmp_path / "f16")
    assert a.signals.dtype == np.float32 and b.signals.dtype == np.float16
    assert np.load(tmp_path / "f16" / "signals.npy", mmap_mode="r").dtype == np.dtype("<f2")
    assert b.signals.shape == a.signals.shape == (5, 12, 1000)
    x32, x16 = np.asarray(a.signals, dtype=np.float64), np.asarray(b.signals, dtype=np.float64)
    assert np.abs(x32).max() > 0.5  # real signal, not zeros
    # float16 rounds to nearest: relative error <= 2**-11, absolute <= 2**-25 in the subnormal range
    np.testing.assert_array_less(np.abs(x16 - x32), np.abs(x32) * 2.0**-11 + 2.0**-24)
    assert not np.array_equal(x16, x32)
    assert json.loads((tmp_path / "f16" / "manifest.json").read_text())["options"]["dtype"] == "float16"
    assert a.records.equals(b.records) and np.array_equal(a.labels, b.labels)
