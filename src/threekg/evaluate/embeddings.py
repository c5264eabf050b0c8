"""Frozen-encoder embeddings, computed once per (encoder, dataset, crop) and cached as ``.npy``.

Each record (12, T) is cut into non-overlapping crops of ``crop_samples`` (the tail that does
not fill a crop is left out; a record shorter than one crop is used whole); the encoder embeds
every crop and the record's embedding is the mean over its crops. So a 10 s record with 5 s
crops gives the mean of two embeddings, each computed on the input length seen in pretraining.

Cache key: sha256 of (encoder fingerprint, dataset fingerprint, crop samples); files are
``CACHE/emb-<key>.npy`` (float32 (N, D), written atomically, never pickled). A hit loads the
array and never runs the encoder.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from threekg.data.normalize import normalize_recordings
from threekg.hashing import file_sha256 as file_sha256  # re-exported for evaluate.runner
from threekg.progress import track


def module_fingerprint(module: nn.Module) -> str:
    """Hex sha256 of a module's config and every state-dict tensor (weights and buffers)."""
    h = hashlib.sha256(json.dumps(getattr(module, "config", type(module).__name__), sort_keys=True,
                                  default=str).encode())
    for key, value in sorted(module.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def dataset_fingerprint(path: Path, signals: np.ndarray) -> str:
    """Hex sha256 of manifest.json, records.csv, labels.npy and a strided sample of the signals.

    The sample (the first 64 samples of every lead of every record, plus the array shape) makes
    two datasets with the same manifest but different signals hash differently without reading
    gigabytes.
    """
    h = hashlib.sha256()
    for name in ("manifest.json", "records.csv", "labels.npy"):
        h.update(file_sha256(Path(path) / name).encode())
    h.update(str(signals.shape).encode())
    h.update(np.ascontiguousarray(signals[:, :, :64]).tobytes())
    return h.hexdigest()


def cache_key(encoder_fp: str, dataset_fp: str, crop_samples: int | None, normalize: str = "none") -> str:
    """Hex key (first 24 hex digits of a sha256) of one embedding array."""
    payload: dict[str, Any] = {"encoder": encoder_fp, "dataset": dataset_fp, "crop_samples": crop_samples,
                               "crops": "mean-of-non-overlapping"}
    if normalize != "none":  # keys of mV embeddings stay those of earlier versions
        payload["normalize"] = normalize
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def crop_starts(n_samples: int, crop_samples: int | None) -> list[int]:
    """Start indices of the non-overlapping crops of one record (``[0]`` when it is short)."""
    if crop_samples is None or crop_samples >= n_samples:
        return [0]
    return list(range(0, n_samples - crop_samples + 1, crop_samples))


def crop_batch(x: torch.Tensor, crop_samples: int | None) -> torch.Tensor:
    """(B, 12, T) -> (B * K, 12, L): the K non-overlapping crops of every record, record-major."""
    starts = crop_starts(x.shape[-1], crop_samples)
    length = x.shape[-1] if crop_samples is None or crop_samples >= x.shape[-1] else crop_samples
    crops = torch.stack([x[..., s : s + length] for s in starts], dim=1)
    return crops.reshape(-1, x.shape[1], length)


class NonFiniteSignalError(ValueError):
    """Signals that hold NaN or inf (a damaged prepared dataset); ``rows`` are their indices."""

    def __init__(self, rows: list[int]) -> None:
        self.rows = rows
        super().__init__(f"non-finite (NaN/inf) values in signals at rows {rows[:10]}")


@torch.no_grad()
def embed(encoder: nn.Module, signals: np.ndarray, crop_samples: int | None, batch_size: int = 64,
          device: str | torch.device = "cpu", progress: bool = True, desc: str = "embed",
          normalize: str = "none") -> np.ndarray:
    """(N, D) float32 mean crop embeddings of ``signals`` (N, 12, T) mV with ``encoder`` in eval mode.

    ``normalize``: the per-recording scaling the encoder was pretrained with
    (:mod:`threekg.data.normalize`), applied to each whole recording before cropping.

    The encoder's training flag is restored afterwards; its weights and buffers are untouched
    (eval mode: batch norm uses and does not update its running statistics).
    """
    was_training = encoder.training
    encoder.eval()
    n_crops = len(crop_starts(signals.shape[-1], crop_samples))
    out: list[np.ndarray] = []
    try:
        for i in track(range(0, signals.shape[0], batch_size), desc, unit="batch", disable=not progress, leave=False):
            batch = np.array(signals[i : i + batch_size], dtype=np.float32)
            bad = ~np.isfinite(batch).all(axis=(1, 2))
            if bad.any():
                rows = (np.flatnonzero(bad) + i).tolist()
                raise NonFiniteSignalError(rows)
            x = torch.from_numpy(normalize_recordings(batch, normalize)).to(device)
            z = encoder(crop_batch(x, crop_samples))
            out.append(z.reshape(x.shape[0], n_crops, -1).mean(dim=1).float().cpu().numpy())
    finally:
        encoder.train(was_training)
    return np.concatenate(out, axis=0) if out else np.zeros((0, 0), dtype=np.float32)


def cached_embeddings(encoder: nn.Module, encoder_fp: str, signals: np.ndarray, dataset_fp: str,
                      cache_dir: Path, crop_samples: int | None, batch_size: int = 64,
                      device: str | torch.device = "cpu", progress: bool = True,
                      desc: str = "embed", normalize: str = "none") -> tuple[np.ndarray, Path, bool]:
    """Embeddings from ``cache_dir`` when present, else computed and saved. Returns (array, path, hit)."""
    path = Path(cache_dir) / f"emb-{cache_key(encoder_fp, dataset_fp, crop_samples, normalize)}.npy"
    if path.exists():
        z = np.load(path, allow_pickle=False)
        if z.shape[0] != signals.shape[0]:
            raise ValueError(f"{path}: cached embeddings have {z.shape[0]} rows, dataset has {signals.shape[0]}")
        return z, path, True
    z = embed(encoder, signals, crop_samples, batch_size, device, progress, desc, normalize)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, z, allow_pickle=False)
    os.replace(tmp, path)
    return z, path, False
