"""Features of many records, in worker processes, with progress, resumable, failures kept with a reason.

Results go to a JSON-lines journal (one line per record, appended as chunks finish) whose first line
holds the options; a second run with the same options measures only the records not yet in it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from threekg.data import open_dataset
from threekg.data.pool import run_chunks
from threekg.progress import progress_bar
from threekg.synth.realism.features import DWT_LEADS, MEASURE_VERSION, DelineationError, record_features

CHUNK = 8
"""Records per task (about 10 s of work at 500 Hz)."""


@dataclass(frozen=True)
class Measured:
    """Features (one row per record, index ``record``) and the records NeuroKit2 could not measure."""

    features: pd.DataFrame
    failed: pd.DataFrame  # columns record, reason


def _measure_one(record: str, ecg: np.ndarray, fs: float, dwt_leads: tuple[str, ...]) -> dict[str, Any]:
    try:
        return {"record": record, "features": record_features(ecg, fs, dwt_leads)}
    except DelineationError as exc:
        return {"record": record, "error": str(exc)}
    except Exception as exc:  # NeuroKit2 raises anything from IndexError to ValueError on odd signals
        return {"record": record, "error": f"{type(exc).__name__}: {exc}"}


def _dataset_task(task: tuple[str, list[int], list[str], tuple[str, ...]]) -> list[dict[str, Any]]:
    path, indices, records, dwt_leads = task
    ds = open_dataset(path)
    return [_measure_one(rec, np.asarray(ds.signals[i], dtype=np.float64), ds.fs, dwt_leads)
            for i, rec in zip(indices, records, strict=True)]


def _array_task(task: tuple[np.ndarray, list[str], float, tuple[str, ...]]) -> list[dict[str, Any]]:
    signals, records, fs, dwt_leads = task
    return [_measure_one(rec, sig, fs, dwt_leads) for rec, sig in zip(records, signals, strict=True)]


def _neurokit_version() -> str:
    import neurokit2 as nk

    return str(nk.__version__)


def _read_journal(path: Path, options: dict[str, Any]) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    lines = path.read_text().splitlines()
    if not lines or json.loads(lines[0]).get("options") != options:
        return []
    done = []
    for line in lines[1:]:
        try:
            done.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by an interruption: measured again
            break
    return done


def _to_frames(rows: list[dict[str, Any]]) -> Measured:
    good = [{"record": r["record"], **r["features"]} for r in rows if "features" in r]
    bad = [{"record": r["record"], "reason": r["error"]} for r in rows if "error" in r]
    features = pd.DataFrame(good).set_index("record") if good else pd.DataFrame(index=pd.Index([], name="record"))
    return Measured(features, pd.DataFrame(bad, columns=["record", "reason"]))


def measure(
    source: str | Path | np.ndarray,
    records: Sequence[str],
    *,
    fs: float | None = None,
    indices: Sequence[int] | None = None,
    journal: str | Path | None = None,
    dwt_leads: tuple[str, ...] = DWT_LEADS,
    workers: int | None = None,
    progress: bool = True,
    desc: str = "realism",
) -> Measured:
    """Measure records of a prepared dataset (``source`` a path, rows ``indices``) or of an array.

    Args:
        source: a prepared dataset folder, or signals (N, 12, T) mV.
        records: N record names (the row names of the result).
        fs: Hz; required for arrays, read from the manifest for a dataset.
        indices: dataset rows to measure (all when omitted); ignored for arrays.
        journal: JSON-lines file to resume from and append to (none: nothing is kept on disk).
    Returns:
        :class:`Measured`; failed records carry NeuroKit2's one-line reason.
    """
    records = [str(r) for r in records]
    if isinstance(source, np.ndarray):
        if fs is None:
            raise ValueError("fs is required when measuring arrays")
        if len(source) != len(records):
            raise ValueError(f"{len(source)} signals but {len(records)} record names")
        key = {"source": "arrays", "fs": float(fs)}
        rows_of = list(range(len(records)))
    else:
        ds = open_dataset(source)
        fs = ds.fs
        rows_of = list(indices) if indices is not None else list(range(len(ds)))
        if len(rows_of) != len(records):
            raise ValueError(f"{len(rows_of)} dataset rows but {len(records)} record names")
        key = {"source": Path(source).resolve().as_posix(), "fs": float(fs)}
    options = {**key, "dwt_leads": list(dwt_leads), "neurokit2": _neurokit_version(), "version": MEASURE_VERSION}
    jpath = Path(journal) if journal is not None else None
    done = _read_journal(jpath, options) if jpath is not None else []
    have = {r["record"] for r in done}
    todo = [k for k, rec in enumerate(records) if rec not in have]
    if jpath is not None and not done:
        jpath.parent.mkdir(parents=True, exist_ok=True)
        jpath.write_text(json.dumps({"options": options}) + "\n")
    chunks = [todo[i : i + CHUNK] for i in range(0, len(todo), CHUNK)]
    tasks: list[Any]
    if isinstance(source, np.ndarray):
        fn: Any = _array_task
        tasks = [(np.asarray(source[c]), [records[k] for k in c], float(fs), dwt_leads) for c in chunks]
    else:
        fn = _dataset_task
        path = Path(source).resolve().as_posix()
        tasks = [(path, [rows_of[k] for k in c], [records[k] for k in c], dwt_leads) for c in chunks]
    rows = list(done)
    with progress_bar(len(records), desc, "rec", initial=len(done), disable=not progress) as bar:
        for result in run_chunks(fn, tasks, workers):
            rows.extend(result)
            if jpath is not None:
                with jpath.open("a") as fh:
                    fh.write("".join(json.dumps(r) + "\n" for r in result))
                    fh.flush()
                    os.fsync(fh.fileno())
            bar.update(len(result))
    order = {rec: k for k, rec in enumerate(records)}
    rows = sorted((r for r in rows if r["record"] in order), key=lambda r: order[r["record"]])
    return _to_frames(rows)
