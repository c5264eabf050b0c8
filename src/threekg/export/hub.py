"""A trained encoder as a folder a model hub understands (``threekg export RUN --hub DIR``).

``DIR/config.json`` + ``DIR/model.safetensors`` (layout: :mod:`threekg.models.hub`, loadable with
``threekg.models.load_encoder(DIR)`` and with huggingface_hub's ``PyTorchModelHubMixin`` through
``threekg.models.hub_mixin.ThreeKGEncoder.from_pretrained(DIR)``) and ``DIR/README.md``, the model
card (:mod:`threekg.export.card`). Nothing is uploaded: pushing the folder is the user's step
(``huggingface-cli upload`` or ``ThreeKGEncoder.push_to_hub``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threekg import __version__
from threekg.errors import DataError, UsageError
from threekg.export.card import find_metrics_entry, model_card
from threekg.models.hub import HUB_CONFIG, HUB_WEIGHTS, write_hub_folder
from threekg.models.source import EncoderSource, open_encoder_source

log = logging.getLogger(__name__)

CARD = "README.md"
STUDY_METRICS = ("metrics.json", "../../eval/metrics.json", "../eval/metrics.json")
"""Where an evaluation of RUN is looked for, relative to RUN (a run, a study's runs/<method>)."""


@dataclass(frozen=True)
class HubExport:
    """What :func:`export_hub` wrote; ``metrics`` is the metrics.json used for the card, if any."""

    path: Path
    metrics: Path | None
    metrics_encoder: str | None


def discover_metrics(source: EncoderSource) -> Path | None:
    """A metrics.json beside the run (RUN/, a study's eval/) that evaluated this encoder, if any."""
    from threekg.report.schema import load_metrics

    if source.kind != "run":
        return None
    for rel in STUDY_METRICS:
        path = (source.path / rel).resolve()
        if path.is_file():
            try:
                if find_metrics_entry(load_metrics(path), source):
                    return path
            except ValueError as err:
                log.warning("%s: ignored (%s)", path, err)
    return None


def _pretrain_data(path: Path) -> dict[str, Any]:
    from threekg.data import open_dataset

    ds = open_dataset(path)
    m = ds.manifest
    return {"name": ds.path.resolve().name, "n_records": len(ds), "source": m.get("source"), "fs": ds.fs,
            "n_samples": ds.n_samples, "label_set": m.get("label_set")}


def export_hub(encoder: str | Path | EncoderSource, out: str | Path, *, metrics: str | Path | None = None,
               pretrain_data: str | Path | None = None, data_licence: str | None = None,
               overwrite: bool = False) -> HubExport:
    """Write ``out/config.json``, ``out/model.safetensors`` and ``out/README.md`` for ``encoder``.

    ``metrics``: an evaluation's metrics.json (or its folder) for the card's table; by default one
    is looked for beside the run. ``pretrain_data``: the prepared dataset the encoder was pretrained
    on (runs do not record it), for the card. Raises ValueError when ``out`` is a non-empty folder
    and ``overwrite`` is not set, or when ``metrics`` is not a valid metrics.json.
    """
    from threekg.report.schema import load_metrics

    out = Path(out)
    source = encoder if isinstance(encoder, EncoderSource) else open_encoder_source(encoder)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise UsageError(f"{out} exists and is not empty; pass --overwrite to replace its files")
    metrics_path = Path(metrics) if metrics is not None else discover_metrics(source)
    doc = load_metrics(metrics_path) if metrics_path is not None else None
    data = _pretrain_data(Path(pretrain_data)) if pretrain_data is not None else None
    if data and source.input.get("fs") and float(data["fs"]) != float(source.input["fs"]):
        raise DataError(f"--pretrain-data {pretrain_data} is at {data['fs']:g} Hz but encoder {source.path} was "
                        f"pretrained on {float(source.input['fs']):g} Hz input; is it the right data set?")
    module = source.load("cpu")
    meta = {k: v for k, v in source.metadata.items() if k not in ("input", "threekg_version")}
    meta.update({"threekg_version": __version__, "trained_with_threekg_version": source.metadata.get("threekg_version"),
                 "source_file": source.file.name, "source_sha256": source.sha256})
    if data:
        meta["pretrain_data"] = data
    write_hub_folder(module, out, source.input, meta)
    card = model_card(source, out.name, embed_dim=int(getattr(module, "embed_dim")),  # noqa: B009
                      n_params=sum(p.numel() for p in module.parameters()), pretrain_data=data, metrics=doc,
                      metrics_where=str(metrics_path) if metrics_path else "", data_licence=data_licence)
    tmp = out / (CARD + ".tmp")
    tmp.write_text(card, encoding="utf-8")
    os.replace(tmp, out / CARD)
    this = find_metrics_entry(doc, source) if doc else None
    log.info("%s: %s, %s, %s written", out, HUB_CONFIG, HUB_WEIGHTS, CARD)
    return HubExport(out, metrics_path, this)
