"""Embeddings of a prepared dataset with a trained encoder, written to disk (``threekg embed``).

``OUT/`` holds::

    embeddings.npy  (N, D) float32; row i is the record in row i of records.csv; np.load(mmap_mode="r")
    records.csv     the dataset's records.csv in the same order, with a leading ``row`` column
    embed.json      the encoder's identity (weights file sha256, config, what input it expects),
                    the dataset's (path, fingerprint, fs, samples) and the crop; written last:
                    its presence marks the embeddings complete
    progress.json   while running: the same identity and ``rows_done`` (removed at the end)

Each record is embedded exactly as ``threekg evaluate`` does it, by the same function
(:func:`threekg.evaluate.embeddings.embed`): the recording scaled as in pretraining (``input.normalize``
of the encoder: ``none`` or ``minmax``), non-overlapping crops of ``crop_seconds``, the encoder in
eval mode on each, the mean over crops. With the same batch size the numbers are bit for bit those of
evaluate's embedding cache. Work is committed every ``chunk_batches`` batches (rows flushed, then
``progress.json`` replaced), so a killed run continues where it stopped when run again.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch

from threekg import __version__
from threekg.data import open_dataset
from threekg.data.dataset import PreparedDataset
from threekg.data.normalize import NORMALIZATIONS
from threekg.errors import DataError, UsageError
from threekg.evaluate.embeddings import NonFiniteSignalError, crop_starts, dataset_fingerprint, embed
from threekg.models.source import EncoderSource, open_encoder_source
from threekg.progress import progress_bar

log = logging.getLogger(__name__)

EMBEDDINGS, RECORDS, INFO, PROGRESS = "embeddings.npy", "records.csv", "embed.json", "progress.json"
DEFAULT_CROP_SECONDS = 5.0
"""Crop length when the encoder does not record its pretraining crop (``threekg evaluate``'s default)."""


@dataclass(frozen=True)
class Embeddings:
    """A complete ``threekg embed`` output: ``z`` (N, D) float32 memmap (read-only), ``records`` N rows."""

    path: Path
    z: np.ndarray
    records: pd.DataFrame
    info: dict[str, Any]


def open_embeddings(out: str | Path) -> Embeddings:
    """Open a finished ``threekg embed`` folder. Raises ValueError when it is absent or incomplete."""
    out = Path(out)
    if not (out / INFO).is_file():
        state = "an unfinished run (re-run `threekg embed` to finish it)" if (out / PROGRESS).is_file() else "absent"
        raise DataError(f"{out}: no {INFO}; the embeddings are {state}")
    info = json.loads((out / INFO).read_text(encoding="utf-8"))
    z = np.load(out / EMBEDDINGS, mmap_mode="r", allow_pickle=False)
    records = pd.read_csv(out / RECORDS, dtype={"record": str, "patient_id": str}, keep_default_na=False)
    return Embeddings(out, z, records, info)


def resolve_crop(source: EncoderSource, crop_seconds: float | Literal["encoder"] | None) -> float | None:
    """Crop length in s: the encoder's pretraining crop for ``"encoder"`` (else 5 s); None or 0: whole record."""
    if crop_seconds == "encoder":
        spec = source.input
        if spec.get("crop_samples") and spec.get("fs"):
            return float(spec["crop_samples"]) / float(spec["fs"])
        log.info("%s records no pretraining crop; using %g s crops", source.path, DEFAULT_CROP_SECONDS)
        return DEFAULT_CROP_SECONDS
    if crop_seconds is None or crop_seconds == 0:
        return None
    if not crop_seconds > 0:
        raise UsageError(f"crop_seconds must be > 0 (or 0 for the whole record), got {crop_seconds}")
    return float(crop_seconds)


def check_input(source: EncoderSource, ds: PreparedDataset, crop_samples: int | None) -> None:
    """One-line ValueError naming both sides when the encoder and the data disagree.

    Checked: sampling rate (Hz), lead set and order, number of input channels, and that a crop fits
    in a record. What the encoder file does not record is not checked.
    """
    spec, enc, data = source.input, source.path, ds.path
    if spec.get("fs") and abs(float(spec["fs"]) - float(ds.fs)) > 1e-6:
        raise DataError(f"encoder {enc} was pretrained on {float(spec['fs']):g} Hz input but dataset {data} is at "
                        f"{ds.fs:g} Hz; prepare the records with `threekg prepare ... --fs {float(spec['fs']):g}`")
    data_leads = list(ds.manifest.get("leads") or [])
    if spec.get("leads") and data_leads and list(spec["leads"]) != data_leads:
        raise DataError(f"encoder {enc} expects leads {','.join(spec['leads'])} but dataset {data} has "
                        f"{','.join(data_leads)}")
    channels = int(source.config.get("in_channels") or ds.signals.shape[1])
    if channels != ds.signals.shape[1]:
        raise DataError(f"encoder {enc} takes {channels} leads but dataset {data} has {ds.signals.shape[1]}")
    if crop_samples is not None and crop_samples > ds.n_samples:
        raise DataError(f"crops of {crop_samples} samples ({crop_samples / ds.fs:g} s) for encoder {enc} are longer "
                        f"than the records of dataset {data} ({ds.n_samples} samples, {ds.n_samples / ds.fs:g} s); "
                        "pass --crop-seconds 0 to embed whole records")


def _write_json(obj: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _start(out: Path, identity: dict[str, Any], key: dict[str, Any], shape: tuple[int, int],
           records: pd.DataFrame, overwrite: bool) -> tuple[np.ndarray | None, int]:
    """Open ``out`` for writing: (memmap, first row to compute), or (None, N) when already complete.

    ``key`` (encoder sha256, dataset fingerprint, crop) decides whether ``out`` holds the same
    embeddings; paths may be spelled differently from one run to the next.
    """
    ours = (EMBEDDINGS, RECORDS, INFO, PROGRESS)
    if overwrite:
        for name in ours:
            (out / name).unlink(missing_ok=True)
    for name, done in ((INFO, True), (PROGRESS, False)):
        if (out / name).is_file():
            state = json.loads((out / name).read_text(encoding="utf-8"))
            if state.get("key") != key:
                raise UsageError(f"{out} holds embeddings of another encoder, dataset or crop ({out / name}); "
                                 "choose another --out or pass --overwrite")
            if done:
                return None, shape[0]
            z = np.load(out / EMBEDDINGS, mmap_mode="r+", allow_pickle=False)
            if z.shape != shape or z.dtype != np.float32:
                raise UsageError(f"{out / EMBEDDINGS}: {z.shape} {z.dtype}, expected {shape} float32; pass --overwrite")
            return z, int(state["rows_done"])
    stray = [n for n in ours if (out / n).exists()]
    if stray:
        raise UsageError(f"{out} already has {', '.join(stray)} without {PROGRESS} or {INFO}; pass --overwrite")
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (RECORDS + ".tmp")
    records.to_csv(tmp, index_label="row")
    os.replace(tmp, out / RECORDS)
    z = np.lib.format.open_memmap(out / EMBEDDINGS, mode="w+", dtype=np.float32, shape=shape)
    _write_json({"key": key, "identity": identity, "rows_done": 0}, out / PROGRESS)
    return z, 0


def embed_dataset(data: str | Path, encoder: str | Path | EncoderSource, out: str | Path, *,
                  crop_seconds: float | Literal["encoder"] | None = "encoder", batch_size: int = 64,
                  chunk_batches: int = 16, device: str | torch.device = "cpu", progress: bool = True,
                  overwrite: bool = False) -> Embeddings:
    """Embed every record of the prepared dataset ``data`` with a trained ``encoder`` into ``out``.

    Args:
        data: a prepared dataset (``threekg prepare``), signals (N, 12, T) mV.
        encoder: a finished RUN dir, an ``encoder.safetensors`` file or a hub folder.
        crop_seconds: ``"encoder"`` (its pretraining crop; 5 s when unrecorded), a length in s, or
            None / 0 for the whole record. Records are cut into non-overlapping crops; the tail that
            does not fill a crop is left out; the embedding is the mean over crops.
        batch_size: records per forward pass (use evaluate's, 64, for its exact numbers).
        chunk_batches: batches between two commits to disk (the most a kill can lose).
        overwrite: replace ``out``'s embeddings when they belong to another encoder, dataset or crop.

    Returns the finished :class:`Embeddings` (``z`` (N, D) float32, memory-mapped). A complete
    ``out`` with the same identity is returned without computing anything. Raises ValueError (one
    line) for an encoder that does not fit the data, non-finite signals (naming the records) or an
    ``out`` that holds other embeddings.
    """
    if batch_size < 1 or chunk_batches < 1:
        raise UsageError(f"batch_size and chunk_batches must be >= 1, got {batch_size}, {chunk_batches}")
    out = Path(out)
    source = encoder if isinstance(encoder, EncoderSource) else open_encoder_source(encoder)
    ds = open_dataset(data)
    seconds = resolve_crop(source, crop_seconds)
    crop = round(seconds * ds.fs) if seconds else None  # as threekg.evaluate does
    check_input(source, ds, crop)
    normalize = str(source.input.get("normalize") or "none")
    if normalize not in NORMALIZATIONS:
        raise DataError(f"encoder {source.path} was pretrained with input normalisation {normalize!r}, which this "
                        f"threekg does not know ({', '.join(NORMALIZATIONS)})")
    module = source.load(device)
    dim = int(getattr(module, "embed_dim"))  # noqa: B009 (nn.Module attributes are typed as Tensor | Module)
    identity = {
        "encoder": source.identity(),
        "data": {"path": str(ds.path.resolve()), "fingerprint": dataset_fingerprint(ds.path, ds.signals),
                 "n_records": len(ds), "fs": ds.fs, "n_samples": ds.n_samples,
                 "leads": ds.manifest.get("leads")},
        "crop_seconds": seconds, "crop_samples": crop, "normalize": normalize,
        "n_crops": len(crop_starts(ds.n_samples, crop)), "embed_dim": dim,
    }
    identity = json.loads(json.dumps(identity, default=str))
    key = {"encoder_sha256": source.sha256, "data_fingerprint": identity["data"]["fingerprint"], "crop_samples": crop}
    if normalize != "none":  # keys of mV embeddings stay those of earlier versions, as in evaluate's cache
        key["normalize"] = normalize
    z, start = _start(out, identity, key, (len(ds), dim), ds.records, overwrite)
    if z is None:
        log.info("%s: embeddings already complete (%s); nothing to do", out, INFO)
        return open_embeddings(out)
    chunk = batch_size * chunk_batches
    started = time.time()
    if start:
        log.info("%s: resuming at record %d of %d", out, start, len(ds))
    with progress_bar(len(ds), f"embed {source.name}", "rec", initial=start, disable=not progress) as bar:
        for i in range(start, len(ds), chunk):
            j = min(i + chunk, len(ds))
            try:
                z[i:j] = embed(module, ds.signals[i:j], crop, batch_size, device, progress=False,
                                normalize=normalize)
            except NonFiniteSignalError as err:
                names = [str(ds.records["record"].iloc[i + r]) for r in err.rows[:10]]
                raise DataError(f"{ds.path}: non-finite (NaN/inf) values in signals.npy, records {names}: "
                                "the dataset is damaged; prepare it again") from None
            z.flush()  # type: ignore[attr-defined]
            _write_json({"key": key, "identity": identity, "rows_done": j}, out / PROGRESS)
            bar.update(j - i)
    del z
    info = {"key": key, "identity": identity, "threekg_version": __version__, "batch_size": batch_size,
            "seconds": round(time.time() - started, 2), "rows_computed": len(ds) - start,
            "files": {"embeddings": EMBEDDINGS, "records": RECORDS}}
    _write_json(info, out / INFO)
    (out / PROGRESS).unlink(missing_ok=True)
    log.info("%s: %d x %d embeddings written", out, len(ds), dim)
    return open_embeddings(out)
