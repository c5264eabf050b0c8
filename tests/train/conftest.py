"""Fixtures for the pretraining tests: a tiny prepared dataset of structured synthetic ECGs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from threekg.data import write_dataset
from threekg.vcg import vcg_to_ecg


def structured_signals(n: int, fs: float, seconds: float, seed: int) -> np.ndarray:
    """(n, 12, T) float32 mV: Gaussian-lobe heart-vector loops with a per-record heart rate, QRS
    axis and amplitude, projected to 12 leads with the Dower matrix, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(fs * seconds)) / fs
    out = np.empty((n, 12, t.size), dtype=np.float32)
    for i in range(n):
        hr = rng.uniform(50, 120)
        phase = (2 * np.pi * hr / 60 * t + rng.uniform(0, 2 * np.pi)) % (2 * np.pi) - np.pi
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        t_axis = rng.normal(size=3)
        qrs = np.exp(-(phase**2) / (2 * 0.05**2))
        twave = np.exp(-((phase - 1.4) ** 2) / (2 * 0.25**2))
        vcg = rng.uniform(0.5, 1.5) * axis[:, None] * qrs + 0.3 * t_axis[:, None] * twave
        ecg = vcg_to_ecg(vcg) + rng.normal(scale=0.01, size=(12, t.size))
        out[i] = ecg.astype(np.float32)
    return out


def make_dataset(path: Path, n: int = 48, fs: float = 100.0, seconds: float = 5.0, seed: int = 0,
                 patients_per_record: int = 2) -> Path:
    """A prepared dataset of ``n`` structured records; consecutive records share a patient."""
    signals = structured_signals(n, fs, seconds, seed)
    records = pd.DataFrame({
        "record": [f"R{i:04d}" for i in range(n)],
        "patient_id": [f"P{i // patients_per_record:04d}" for i in range(n)],
    })
    labels = np.zeros((n, 1), dtype=np.uint8)
    write_dataset(path, signals, labels, ["X"], records, fs=fs, label_set="test", source="structured test signals")
    return path


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 records of 5 s at 100 Hz, 24 patients with 2 recordings each."""
    return make_dataset(tmp_path_factory.mktemp("data") / "tiny")


@pytest.fixture(scope="session")
def single_patient_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 records, one per patient."""
    return make_dataset(tmp_path_factory.mktemp("data") / "single", n=16, patients_per_record=1, seed=1)



@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread: on the shared 2-core machine, 2 threads make these small ops ~20x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
