"""The realism run behind ``threekg realism``: inputs, selection, measurement, table, tests, figures.

Inputs are prepared datasets, or any collection ``threekg prepare`` reads (a ``threekg synth`` tree,
a CinC tree, a PTB-XL folder, a WFDB folder), which is prepared once at 500 Hz into
``OUT/prepared/<role>`` (PTB-XL with the ``ptbxl-all`` label set, so every SCP statement can be
selected) and prepared again when the source changes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from threekg.data import PreparedDataset, open_dataset, prepare
from threekg.data.dataset import MANIFEST
from threekg.errors import DataError, InputError, MissingExtraError
from threekg.synth.realism.compare import Discrimination, discriminate, markdown_table, realism_table
from threekg.synth.realism.features import DWT_LEADS, GLOBAL_FEATURES, lead_features
from threekg.synth.realism.measure import measure

ROLES = ("synth", "real", "reference")
PREPARE_FS = 500.0


def _fingerprint(src: Path) -> dict[str, Any]:
    """Count, total size and newest modification time of the files under ``src``: changes when regenerated."""
    files = [p for p in sorted(src.rglob("*")) if p.is_file()] if src.is_dir() else [src]
    stats = [p.stat() for p in files]
    return {"src": src.resolve().as_posix(), "files": len(stats), "bytes": sum(s.st_size for s in stats),
            "newest_ns": max((s.st_mtime_ns for s in stats), default=0)}


def open_input(src: str | Path, out: Path, role: str, workers: int | None = None,
               progress: bool = True) -> PreparedDataset:
    """``src`` as a prepared dataset: opened as it is, or prepared into ``out/prepared/role`` first."""
    src = Path(src)
    if not src.exists():
        raise InputError(f"{src}: no such file or folder")
    if (src / MANIFEST).is_file():
        return open_dataset(src)
    from threekg.data.sources import detect_format

    dest = out / "prepared" / role
    stamp = out / "prepared" / f"{role}.source.json"
    finger = _fingerprint(src)
    fresh = stamp.is_file() and json.loads(stamp.read_text()) == finger and (dest / MANIFEST).is_file()
    if not fresh:
        kind = detect_format(src, None)
        label_set = "ptbxl-all" if kind == "ptbxl" else None
        stamp.parent.mkdir(parents=True, exist_ok=True)
        summary = prepare(src, dest, fs=PREPARE_FS, seconds=10.0, label_set=label_set, workers=workers,
                          overwrite=True, progress=progress)
        print(f"{role}: {summary.n_accepted} records prepared from {src} ({summary.n_rejected} rejected, "
              f"reasons in {dest / 'rejected.csv'})")
        stamp.write_text(json.dumps(finger))
    return open_dataset(dest)


def select(ds: PreparedDataset, spec: str | None) -> np.ndarray:
    """Row indices of ``ds`` matching ``spec``.

    ``None``: every record. ``NAME``: records labelled NAME. ``A+B``: labelled A and B.
    ``=A`` or ``=A+B``: labelled exactly that (no other label of the set). Names are the dataset's
    label columns (e.g. ``NSR`` for a synth tree, ``NORM`` or ``CLBBB`` for PTB-XL).
    """
    if spec is None or spec.strip() == "":
        return np.arange(len(ds))
    exact = spec.startswith("=")
    names = [s.strip() for s in spec.lstrip("=").split("+") if s.strip()]
    unknown = [n for n in names if n not in ds.label_names]
    if unknown:
        raise DataError(f"{ds.path}: no label {unknown[0]!r} in this dataset (label set "
                         f"{ds.manifest.get('label_set')}: {', '.join(ds.label_names[:40])}"
                         f"{', ...' if len(ds.label_names) > 40 else ''})")
    labels = np.asarray(ds.labels, dtype=bool)
    cols = [ds.label_names.index(n) for n in names]
    keep = labels[:, cols].all(axis=1)
    if exact:
        keep &= labels.sum(axis=1) == len(cols)
    return np.flatnonzero(keep)


def _subsample(idx: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    if n is None or len(idx) <= n:
        return idx
    return np.sort(np.random.default_rng(seed).choice(idx, n, replace=False))


def _dataset_id(ds: PreparedDataset) -> str:
    stat = (ds.path / "signals.npy").stat()
    text = (ds.path / MANIFEST).read_bytes() + f"{stat.st_size}:{stat.st_mtime_ns}".encode()
    return hashlib.sha1(text).hexdigest()[:12]


@dataclass
class RealismResult:
    """Everything a realism run measured; ``table`` has one row per feature (see :func:`realism_table`)."""

    table: pd.DataFrame
    discriminators: dict[str, Discrimination]
    counts: dict[str, int]
    failed: dict[str, pd.DataFrame]
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def n_inside(self) -> int:
        return int(self.table["inside"].sum())


def run_realism(synth: str | Path, real: str | Path, out: str | Path, *, synth_select: str | None = None,
                real_select: str | None = None, reference: str | Path | None = None,
                reference_select: str | None = None, max_records: int | None = 400, seed: int = 0,
                dwt_leads: tuple[str, ...] = DWT_LEADS, cnn: bool = True, workers: int | None = None,
                progress: bool = True) -> RealismResult:
    """Measure, compare and write ``out/realism.md``, ``realism.csv``, ``discriminators.json``,
    ``features_<role>.csv``, ``failed_<role>.csv`` and the figures ``distributions.png``, ``per_lead.png``.

    Raises MissingExtraError without NeuroKit2 (extra ``threekg[realism]``), before writing anything."""
    import importlib.util

    if importlib.util.find_spec("neurokit2") is None:
        raise MissingExtraError("threekg realism needs NeuroKit2", hint="pip install 'threekg[realism]'")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    inputs = {"synth": (synth, synth_select), "real": (real, real_select)}
    if reference is not None:
        inputs["reference"] = (reference, reference_select)
    for src, _ in inputs.values():  # a missing input is known before any record is measured
        if not Path(src).exists():
            raise InputError(f"{src}: no such file or folder")
    datasets, rows, feats, failed = {}, {}, {}, {}
    features = GLOBAL_FEATURES + lead_features(dwt_leads)
    for role, (src, spec) in inputs.items():
        ds = open_input(src, out, role, workers, progress)
        idx = _subsample(select(ds, spec), max_records, seed)
        if len(idx) < 2:
            raise DataError(f"{src}: only {len(idx)} records match {spec!r}; need at least 2")
        datasets[role], rows[role] = ds, idx
        names = ds.records["record"].astype(str).to_numpy()[idx].tolist()
        m = measure(ds.path, names, indices=idx.tolist(), journal=out / "journal" / f"{role}-{_dataset_id(ds)}.jsonl",
                    dwt_leads=dwt_leads, workers=workers, progress=progress, desc=f"realism {role}")
        feats[role], failed[role] = m.features, m.failed
        m.features.to_csv(out / f"features_{role}.csv")
        m.failed.to_csv(out / f"failed_{role}.csv", index=False)
        for rec, reason in m.failed.itertuples(index=False):
            print(f"{role}: {rec}: NeuroKit2 could not delineate: {reason}")
    fs = {role: ds.fs for role, ds in datasets.items()}
    if len(set(fs.values())) > 1:
        raise DataError(f"the inputs have different sampling rates {fs}; prepare them at one rate")
    table = realism_table(feats["synth"], feats["real"], features)
    disc: dict[str, Discrimination] = {}
    for model in ("logistic", "boosting"):
        disc[f"synth-vs-real/{model}"] = discriminate(feats["synth"], feats["real"], features, model, seed=seed)
        if "reference" in feats:
            disc[f"real-vs-reference/{model}"] = discriminate(feats["real"], feats["reference"], features, model,
                                                              seed=seed)
    if cnn:
        from threekg.synth.realism.cnn import cnn_discriminate

        def signals(role: str) -> np.ndarray:
            ok = set(feats[role].index)
            names = datasets[role].records["record"].astype(str).to_numpy()
            return np.asarray(datasets[role].signals[[i for i in rows[role] if names[i] in ok]])

        disc["synth-vs-real/cnn"] = cnn_discriminate(signals("synth"), signals("real"), fs["synth"], seed=seed)
        if "reference" in feats:
            disc["real-vs-reference/cnn"] = cnn_discriminate(signals("real"), signals("reference"), fs["real"],
                                                             seed=seed)
    counts = {role: len(df) for role, df in feats.items()}
    result = RealismResult(table, disc, counts, failed)
    result.files = _write_outputs(result, feats, out, inputs)
    return result


def _write_outputs(result: RealismResult, feats: dict[str, pd.DataFrame], out: Path,
                   inputs: dict[str, tuple[Any, str | None]]) -> dict[str, Path]:
    from threekg.synth.realism.plots import plot_distributions, plot_per_lead

    files = {"table_csv": out / "realism.csv", "table_md": out / "realism.md", "json": out / "discriminators.json"}
    result.table.to_csv(files["table_csv"])
    files["table_md"].write_text(report_markdown(result, inputs) + "\n")
    files["json"].write_text(json.dumps({k: vars(v) for k, v in result.discriminators.items()}, indent=2) + "\n")
    files["distributions"] = plot_distributions(feats, out / "distributions.png")
    files["per_lead"] = plot_per_lead(feats, out / "per_lead.png")
    return files


def report_markdown(result: RealismResult, inputs: dict[str, tuple[Any, str | None]] | None = None) -> str:
    """The text ``threekg realism`` prints and writes to ``realism.md``."""
    lines = []
    if inputs:
        for role, (src, spec) in inputs.items():
            lines.append(f"- {role}: `{src}`" + (f" selected `{spec}`" if spec else "")
                         + f", {result.counts.get(role, 0)} records measured, "
                         f"{len(result.failed.get(role, []))} not delineated")
        lines.append("")
    t = result.table
    lines.append(f"Features with the synth median inside the real IQR: {result.n_inside} of {len(t)}"
                 + ("" if result.n_inside == len(t) else
                    " (outside: " + ", ".join(t.index[~t["inside"]]) + ")"))
    lines.append("")
    lines.append("| two-sample test | cross-validated AUROC (s.d.) | n |")
    lines.append("|---|---|---|")
    for key, d in result.discriminators.items():
        lines.append(f"| {key} | {d.auroc:.3f} ({d.sd:.3f}) | {d.n_a} vs {d.n_b} |")
    lines.append("")
    lines.append(markdown_table(t))
    return "\n".join(lines)

