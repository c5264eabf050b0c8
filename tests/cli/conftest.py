"""Inputs for the CLI error tests, generated: small prepared datasets, an encoder, a finished run,
raw collections (good, and with every signal file missing), label tables and array files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from threekg.data import write_dataset

FS, SECONDS, N = 100.0, 10.0, 40
"""The prepared datasets: 40 records (one per patient) of 10 s at 100 Hz."""

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def _dataset(path: Path, labels: np.ndarray, names: list[str], label_set: str) -> Path:
    rng = np.random.default_rng(0)
    signals = rng.normal(scale=0.1, size=(N, 12, round(FS * SECONDS))).astype(np.float32)
    records = pd.DataFrame({"record": [f"R{i:03d}" for i in range(N)], "patient_id": [f"P{i:03d}" for i in range(N)]})
    write_dataset(path, signals, labels, names, records, fs=FS, label_set=label_set, source="test")
    return path


def make_world(root: Path) -> Path:
    """Write every input below ``root`` (see the names below); returns ``root``."""
    import torch

    from threekg.models import build_encoder, save_encoder
    from threekg.synth.challenge import write_challenge_tree
    from threekg.train.config import dump_config, resolve_config

    y = np.zeros((N, 2), dtype=np.uint8)
    y[::3, 0], y[1::4, 1] = 1, 1
    _dataset(root / "data", y, ["A", "B"], "csv")
    _dataset(root / "data-none", np.zeros((N, 0), dtype=np.uint8), [], "none")
    _dataset(root / "data-nopos", np.zeros((N, 2), dtype=np.uint8), ["A", "B"], "csv")
    torch.manual_seed(0)
    save_encoder(build_encoder("resnet18-small"), root / "encoder.safetensors")
    run = root / "run"  # what a completed `threekg pretrain` leaves
    run.mkdir()
    dump_config(resolve_config(preset="cpu-small", overrides=[("method.name", "3kg")]), run / "config.yaml")
    shutil.copy(root / "encoder.safetensors", run / "encoder.safetensors")
    (run / "DONE").write_text(json.dumps({"global_step": 200}))
    raw = root / "raw-missing-signals"  # a CinC tree whose .mat files never arrived
    raw.mkdir()
    for i in range(5):
        (raw / f"A{i:04d}.hea").write_text(
            f"A{i:04d} 12 500 5000\n" + "".join(f"A{i:04d}.mat 16x1+24 1000/mV 16 0 0 0 0 {lead}\n" for lead in LEADS)
            + "#Age: 50\n#Sex: Male\n#Dx: 426783006\n")
    write_challenge_tree(root / "raw-good", n=6, seed=0, fs=100.0, seconds=2.0, workers=1, progress=False)
    np.save(root / "arrays.npy", np.random.default_rng(1).normal(scale=0.1, size=(6, 12, 200)).astype(np.float32))
    (root / "not-an-array.npy").write_bytes(b"not an array")
    pd.DataFrame({"record": [str(i) for i in range(6)], "A": [0, 1] * 3}).to_csv(root / "labels.csv", index=False)
    (root / "labels-bad.csv").write_text("record,A\n0,7\n1,yes\n")
    (root / "not-an-evaluation").mkdir()
    (root / "empty").mkdir()
    return root


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The inputs of :func:`make_world`, once per test module."""
    return make_world(tmp_path_factory.mktemp("world"))
