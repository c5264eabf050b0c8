"""Synthetic datasets with a planted signal: class k adds a sinusoid of frequency f_k to every lead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from threekg.data import write_dataset

FS = 100.0
FREQS = (3.0, 7.0, 13.0, 19.0)


def make_planted(path: Path, n: int = 240, seconds: float = 4.0, seed: int = 0, n_patients: int | None = None):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FS)) / FS
    y = (rng.random((n, len(FREQS))) < 0.3).astype(np.uint8)
    x = rng.normal(0, 1.0, (n, 12, t.size))
    for k, f in enumerate(FREQS):
        x += y[:, k, None, None] * 1.0 * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi, (n, 1, 1)))
    n_patients = n_patients or n // 2
    records = pd.DataFrame({"record": [f"r{i:04d}" for i in range(n)],
                            "patient_id": [f"p{rng.integers(n_patients)}" for _ in range(n)]})
    return write_dataset(path, x.astype(np.float32), y, [f"c{k}" for k in range(len(FREQS))], records, FS,
                         label_set="synthetic", source="test")


class BandPower(nn.Module):
    """Hand-built encoder that sees the labels: log power of lead I at each planted frequency.

    Has a BatchNorm so tests can check that evaluation leaves running statistics untouched.
    """

    def __init__(self, fs: float = FS, freqs: tuple[float, ...] = FREQS) -> None:
        super().__init__()
        self.freqs = torch.tensor(freqs)
        self.fs = fs
        self.embed_dim = len(freqs)
        self.norm = nn.BatchNorm1d(len(freqs))
        self.norm.running_mean.fill_(0.5)
        self.calls = 0
        self.config = {"name": "bandpower"}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        t = torch.arange(x.shape[-1]) / self.fs
        arg = 2 * torch.pi * self.freqs[:, None] * t[None, :]
        c = (x[:, 0, None, :] * torch.cos(arg)).mean(-1)
        s = (x[:, 0, None, :] * torch.sin(arg)).mean(-1)
        return self.norm(torch.log(c**2 + s**2 + 1e-6))


class NoiseProjection(nn.Module):
    """A random projection of pure noise: embeddings independent of the input."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.embed_dim = dim
        self.proj = nn.Linear(dim, dim)
        self.config = {"name": "noise"}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = torch.Generator().manual_seed(int(x.abs().sum().item() * 1000) % 2**31)
        return self.proj(torch.randn(x.shape[0], self.embed_dim, generator=g))


