"""A small trained-looking encoder file and a small prepared dataset, for the embed and export tests.

A module of its own (like realdata_paths): tests in several folders import it by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from threekg.data import write_dataset
from threekg.leads import LEADS
from threekg.models import build_encoder, save_encoder

FS = 100.0


def small_encoder(seed: int = 0, **options: Any) -> torch.nn.Module:
    """resnet18-small of width 8 with non-default BatchNorm statistics, in eval mode."""
    torch.manual_seed(seed)
    enc = build_encoder("resnet18-small", width=8, **options)
    enc.train()
    with torch.no_grad():
        enc(torch.randn(8, int(options.get("in_channels", 12)), 200) * 0.7 + 0.1)
    return enc.eval()


def save_small_encoder(path: Path, *, fs: float = FS, crop_samples: int = 200, leads: list[str] | None = None,
                       seed: int = 0, input_spec: dict[str, Any] | None = None, normalize: str = "none",
                       **options: Any) -> Path:
    """An encoder file with the metadata a pretraining run writes (method, steps, input)."""
    spec = {"fs": fs, "crop_samples": crop_samples, "normalize": normalize, "leads": list(leads or LEADS), "units": "mV"}
    if input_spec is not None:
        spec = input_spec
    meta = {"method": "3kg", "method_description": "3kg: test", "global_step": 7, "input": spec,
            "config": {"seed": 0, "data": {"batch_size": 16, "crop_seconds": crop_samples / fs},
                       "optim": {"lr": 2e-4}, "loss": {"temperature": 0.1}, "head": {"kind": "mlp"}}}
    return save_encoder(small_encoder(seed, **options), path, metadata=meta)


def make_run(run: Path, **kwargs: Any) -> Path:
    """A finished run directory as pretraining leaves it (config.yaml, encoder.safetensors, DONE)."""
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("seed: 0\n")
    save_small_encoder(run / "encoder.safetensors", **kwargs)
    (run / "DONE").write_text("{}\n")
    return run


def make_data(path: Path, n: int = 150, seconds: float = 4.0, fs: float = FS, seed: int = 0,
              nan_row: int | None = None) -> Path:
    """A prepared dataset: 2 classes that add a sinusoid to every lead, 2 records per patient."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * fs)) / fs
    y = (rng.random((n, 2)) < 0.4).astype(np.uint8)
    x = rng.normal(0, 0.3, (n, 12, t.size))
    for k, f in enumerate((5.0, 11.0)):
        x += y[:, k, None, None] * np.sin(2 * np.pi * f * t)
    if nan_row is not None:
        x[nan_row, 3, 10] = np.nan
    records = pd.DataFrame({"record": [f"R{i:04d}" for i in range(n)], "patient_id": [f"P{i // 2}" for i in range(n)]})
    write_dataset(path, x.astype(np.float32), y, ["A", "B"], records, fs, label_set="csv", source="test")
    return path
