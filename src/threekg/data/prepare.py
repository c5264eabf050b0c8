"""``prepare``: stream a collection into a prepared dataset, on all cores, resumable.

Candidates are listed up front (sorted). ``DIR/.partial/signals.npy`` is pre-allocated for all
of them; chunks of candidates are processed by a worker pool and consumed in order, accepted rows
are appended at the current end of the file and each finished chunk is journalled
(``journal.jsonl``), so a killed run resumes after the last journalled chunk. At the end the
``.npy`` header is rewritten with the accepted count and the file truncated, the tables are
written, and ``manifest.json`` is written last (atomic rename). The output is byte-identical
whatever ``workers`` is and whether the run was interrupted.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from threekg.data import npyfile
from threekg.data.dataset import (
    MANIFEST,
    manifest_dict,
    normalise_records,
    write_csv_atomic,
    write_json_atomic,
)
from threekg.data.labelsets import canonical_label_set, get_label_set
from threekg.data.pool import run_chunks
from threekg.data.sources import Candidate, Processing, Source, open_source
from threekg.data.worker import run_chunk
from threekg.errors import DataError, UsageError
from threekg.leads import LEADS
from threekg.progress import progress_bar

log = logging.getLogger(__name__)
PARTIAL = ".partial"
OUTPUTS = ("signals.npy", "labels.npy", "records.csv", "rejected.csv")
MAX_SAMPLES = 10_000_000
"""Samples per lead and record at most (--fs x --seconds; e.g. 1 h at 2,500 Hz): a sanity bound."""


@dataclass
class PrepareSummary:
    """What a :func:`prepare` run did; ``str()`` is the one-paragraph summary the CLI prints."""

    out: Path
    n_accepted: int
    n_rejected: int
    reasons: list[tuple[str, int]] = field(default_factory=list)
    label_counts: dict[str, int] = field(default_factory=dict)
    n_outside: int = 0
    status: str = "written"
    n_unlabelled: int = 0
    evaluate_labelled_only: bool = False

    def __str__(self) -> str:
        if self.status == "complete":
            return f"{self.out} is already complete with these options ({self.n_accepted} records); nothing to do."
        reasons = "; ".join(f"{r} ({n})" for r, n in self.reasons[:5]) or "none"
        labels = ", ".join(f"{k} {v}" for k, v in self.label_counts.items() if v) or "none positive"
        unlabelled = ""
        if self.n_unlabelled:
            unlabelled = (f" {self.n_unlabelled} records have no label of this set"
                          + ("; they are kept (pretraining uses them) and left out of evaluation, as the PTB-XL "
                             "benchmark drops them." if self.evaluate_labelled_only else "."))
        return (f"Prepared {self.out}: {self.n_accepted} records accepted, {self.n_rejected} rejected "
                f"(top reasons: {reasons}). Label counts: {labels}.{unlabelled} "
                f"{self.n_outside} code occurrences outside the label set are kept in records.csv.")


def reason_kind(reason: str) -> str:
    """Group reasons for the summary: numbers -> ``#``, lead lists -> ``LEAD``."""
    kind = re.sub(r"lead(\(s\))? [\w,]+", "lead LEAD", reason)
    return re.sub(r"\d+(\.\d+)?", "#", kind)


def _chunks(n: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(a + size, n)) for a in range(0, n, size)]


def _read_journal(path: Path, n_chunks: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    if not path.exists():
        return entries
    with open(path) as fh:
        for line in fh:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                break  # a line cut by a kill
            if entry.get("chunk") != len(entries) or len(entries) >= n_chunks:
                break
            entries.append(entry)
    return entries


def replaced_path(out: Path) -> Path:
    """Where ``--overwrite`` keeps the previous complete dataset until the new one is complete."""
    return out.with_name(out.name + ".replaced")


def _check_out(out: Path, options: dict[str, Any], overwrite: bool) -> str | None:
    """'complete' if ``out`` already holds this dataset; with ``overwrite`` moves a complete dataset
    aside (to :func:`replaced_path`, deleted only once the new one is complete) and clears the rest;
    refuses otherwise."""
    manifest = out / MANIFEST
    if manifest.is_file():
        old = json.loads(manifest.read_text())
        if old.get("options") == options and not overwrite:
            return "complete"
        if not overwrite:
            raise FileExistsError(f"{out} holds a dataset prepared with other options; pass --overwrite to replace it")
        # Never lose a good dataset to a failed rebuild (full disk, kill): keep it whole beside `out`.
        backup = replaced_path(out)
        if backup.exists():
            shutil.rmtree(backup)
        os.replace(out, backup)
        log.info("%s: previous dataset moved to %s until the new one is complete", out, backup)
        return None
    if out.is_dir():
        unknown = [p.name for p in out.iterdir() if p.name not in (*OUTPUTS, PARTIAL, MANIFEST)]
        if unknown and not overwrite:
            raise FileExistsError(f"{out} is not empty and not a threekg dataset ({unknown[0]}, ...); "
                                  "pass --overwrite or choose another --out")
        if overwrite:
            shutil.rmtree(out)
    return None


def parse_folds(folds: Sequence[int] | str | None) -> set[int] | None:
    """``--folds`` as a set of fold numbers: ``"1-8"``, ``"1,2,9"``, ``"1-3,9"`` or a list of ints."""
    if folds is None:
        return None
    parts = folds.split(",") if isinstance(folds, str) else list(folds)
    keep: set[int] = set()
    try:
        for part in parts:
            if isinstance(part, str) and "-" in part.strip()[1:]:
                lo, hi = part.split("-", 1)
                keep.update(range(int(lo), int(hi) + 1))
            else:
                keep.add(int(part))
    except (TypeError, ValueError):
        raise UsageError(f"--folds: expected fold numbers such as 1-8 or 1,2,9, got {folds!r}") from None
    if not keep:
        raise UsageError(f"--folds: no fold in {folds!r}")
    return keep


def select_folds(cands: Sequence[Candidate], keep: set[int], src: Path) -> list[Candidate]:
    """The candidates whose ``strat_fold`` is in ``keep`` (those without one are left out);
    UsageError when the source has no folds or none match."""
    folds = [c.meta.get("strat_fold") for c in cands]  # an int, or absent (sources.as_fold)
    present = sorted({f for f in folds if f is not None})
    if not present:
        raise UsageError(f"{src}: --folds needs records with a strat_fold (PTB-XL, or a labels CSV with a "
                         "strat_fold column); this source has none")
    chosen = [c for c, f in zip(cands, folds, strict=True) if f in keep]
    if not chosen:
        raise UsageError(f"{src}: no record in folds {sorted(keep)}; its folds are {present}")
    return chosen


def prepare(src: str | Path, out: str | Path, *, format: str = "auto", fs: float = 500.0,
            seconds: float = 10.0, short: str = "pad", label_set: str | None = None,
            labels: str | Path | None = None, dtype: str = "float32", workers: int | None = None,
            overwrite: bool = False, limit: int | None = None, input_fs: float | None = None,
            ptbxl_min_likelihood: float | None = None, chunk_size: int | None = None,
            progress: bool = True, folds: Sequence[int] | str | None = None) -> PrepareSummary:
    """Turn a collection into a prepared dataset at ``out`` (see ``docs/data.md`` for every option).

    ``label_set`` may be a former name (``ptbxl-superclass``); the manifest records the current one.
    ``ptbxl_min_likelihood``: None (default) counts every PTB-XL statement, as the PTB-XL benchmark;
    a number keeps a diagnostic statement only when its likelihood is > it (a deviation).
    ``folds``: keep only the records whose ``strat_fold`` is one of these (a list, or ``"1-8"`` /
    ``"1,2,9"``), e.g. to pretrain on PTB-XL's training folds and leave the test fold unseen.

    Returns a :class:`PrepareSummary`. Raises FileExistsError when ``out`` holds a dataset made with
    other options (unless ``overwrite``), :class:`~threekg.errors.UsageError` for bad options,
    :class:`~threekg.errors.InputError` for a missing or unreadable source, and
    :class:`~threekg.errors.DataError` when no record is found or none is accepted (then
    ``out/rejected.csv`` gives every record's reason and no dataset is marked complete).
    """
    src, out = Path(src).resolve(), Path(out).resolve()
    if short not in ("pad", "reject"):
        raise UsageError(f"short must be 'pad' or 'reject', got {short!r}")
    if dtype not in ("float32", "float16"):
        raise UsageError(f"dtype must be float32 or float16, got {dtype!r}")
    if not (np.isfinite(fs) and fs > 0 and np.isfinite(seconds) and seconds > 0):
        raise UsageError(f"--fs and --seconds must be positive numbers, got {fs:g} Hz and {seconds:g} s")
    if not 1 <= round(fs * seconds) <= MAX_SAMPLES:
        raise UsageError(f"--fs {fs:g} x --seconds {seconds:g} is {round(fs * seconds):,} samples per record; "
                         f"1 to {MAX_SAMPLES:,} are supported")
    for name, value in (("--input-fs", input_fs), ("--limit", limit), ("--workers", workers)):
        if value is not None and not (np.isfinite(value) and value > 0):
            raise UsageError(f"{name} must be a positive number, got {value}")
    labels_path = Path(labels).resolve() if labels is not None else None
    source = open_source(src, format, fs=fs, labels=labels_path, min_likelihood=ptbxl_min_likelihood)
    if source.kind == "arrays" and input_fs is None:
        input_fs = fs
    set_name = canonical_label_set(label_set or source.default_label_set)
    if label_set is not None and set_name != label_set:
        log.info("label set %s is now called %s (the PTB-XL benchmark's name); using it", label_set, set_name)
    options = {"src": src.as_posix(), "format": source.kind, "fs": float(fs), "seconds": float(seconds),
               "short": short, "label_set": set_name, "labels": labels_path.as_posix() if labels_path else None,
               "dtype": dtype, "limit": limit, "input_fs": input_fs,
               "ptbxl_min_likelihood": ptbxl_min_likelihood if source.kind == "ptbxl" else None}
    keep = parse_folds(folds)
    if keep is not None:  # only then: the options (and fingerprints) of datasets without it stay as they were
        options["folds"] = sorted(keep)
    probe = get_label_set(set_name, statements=source.statements, csv_columns=source.csv_columns)
    if _check_out(out, options, overwrite) == "complete":
        m = json.loads((out / MANIFEST).read_text())
        return PrepareSummary(out, m["n_records"], m["n_rejected"], status="complete")
    cands = source.candidates if keep is None else select_folds(source.candidates, keep, src)
    cands = cands[:limit] if limit is not None else cands
    if not cands and not source.rejected_upfront:
        raise DataError(f"{src}: no record found (read as format {source.kind!r})",
                        hint="check the path, or choose the layout with --format")
    n_samples = round(seconds * fs)
    proc = Processing(fs=float(fs), n_samples=n_samples, short=short, dtype=dtype, needs_dx=probe.needs_dx,
                      src=src.as_posix(), kind=source.kind, arrays_fs=float(input_fs or 0.0),
                      arrays_key=source.arrays_key)
    partial = out / PARTIAL
    chunk_size = chunk_size or int(os.environ.get("THREEKG_PREPARE_CHUNK", "32"))
    _run(partial, cands, proc, options, workers, chunk_size, progress)
    summary = _finalize(out, source, cands, proc, options, set_name)
    shutil.rmtree(replaced_path(out), ignore_errors=True)  # the new dataset is complete
    return summary


def _run(partial: Path, cands: list[Candidate], proc: Processing, options: dict[str, Any],
         workers: int | None, chunk_size: int, progress: bool) -> None:
    state = {"options": options, "records": [c.record for c in cands], "chunk_size": chunk_size}
    state_path, signals, journal = partial / "state.json", partial / "signals.npy", partial / "journal.jsonl"
    if state_path.is_file() and json.loads(state_path.read_text()) != state:
        log.warning("%s: discarding an interrupted run made with other options", partial)
        shutil.rmtree(partial)
    if not state_path.is_file():
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        npyfile.allocate(signals, len(cands), (len(LEADS), proc.n_samples), proc.dtype)
        write_json_atomic(state, state_path)
    if (partial / "FINALIZED").exists():
        return
    chunks = _chunks(len(cands), chunk_size)
    done = _read_journal(journal, len(chunks))
    if done:
        log.info("resuming: %d of %d chunks already done", len(done), len(chunks))
    header_len = npyfile.header_length(signals)
    rows_after = done[-1]["rows_after"] if done else 0
    todo = [(cands[a:b], proc) for a, b in chunks[len(done):]]
    with open(journal, "a") as jf:
        if done:  # drop a cut last line, if any, by rewriting the good prefix
            jf.truncate(0)
            jf.writelines(json.dumps(e, sort_keys=True) + "\n" for e in done)
        for k, (arr, outcomes) in enumerate(_results(todo, workers, progress, len(cands),
                                                     sum(b - a for a, b in chunks[:len(done)]))):
            if len(arr):
                npyfile.write_rows(signals, header_len, rows_after, arr)
            rows_after += len(arr)
            jf.write(json.dumps({"chunk": len(done) + k, "rows_after": rows_after, "outcomes": outcomes},
                                sort_keys=True) + "\n")
            jf.flush()


def _no_record_accepted(out: Path, rejected: list[tuple[str, str]]) -> NoReturn:
    """Raise DataError for a run that accepted nothing, keeping every reason in a ``rejected.csv``.

    No manifest is written (a dataset of 0 records would fail every later step). A dataset that
    ``--overwrite`` moved aside goes back in place unchanged; the reasons then go next to it, in
    ``OUT.rejected.csv``. The partial run is removed, so a re-run after fixing the records reads them again.
    """
    backup = replaced_path(out)
    if backup.exists():
        shutil.rmtree(out)
        os.replace(backup, out)
        where, kept = out.with_name(out.name + ".rejected.csv"), f"; the previous dataset in {out} is unchanged"
    else:
        shutil.rmtree(out / PARTIAL)
        where, kept = out / "rejected.csv", ""
    write_csv_atomic(pd.DataFrame(rejected, columns=["record", "reason"]), where)
    top = "; ".join(f"{r} ({n} records)" for r, n in Counter(reason_kind(r) for _, r in rejected).most_common(3))
    raise DataError(f"no record accepted: all {len(rejected)} were rejected (top reasons: {top}){kept}",
                    hint=f"every record's reason is in {where}; fix the records or the options and re-run")


def _results(todo: list[Any], workers: int | None, progress: bool, total: int, initial: int) -> Iterator[Any]:
    results = run_chunks(run_chunk, todo, workers)  # the pool starts before the bar's monitor thread
    bar = progress_bar(total, "prepare", "rec", initial=initial, disable=not progress)
    try:
        for result in results:
            bar.update(len(result[1]))
            yield result
    finally:
        bar.close()


def _finalize(out: Path, source: Source, cands: list[Candidate], proc: Processing,
              options: dict[str, Any], set_name: str) -> PrepareSummary:
    partial = out / PARTIAL
    entries = _read_journal(partial / "journal.jsonl", 1 << 62)
    rows: list[dict[str, Any]] = []
    rejected: list[tuple[str, str]] = list(source.rejected_upfront)
    for e in entries:
        for record, status, payload in e["outcomes"]:
            (rows.append(payload) if status == "ok" else rejected.append((record, payload)))
    if len(rows) + len(rejected) - len(source.rejected_upfront) != len(cands):
        raise RuntimeError(f"{partial}: journal is incomplete; re-run to resume")
    if not rows:
        _no_record_accepted(out, rejected)
    codes = [r["codes"].split(";") if r["codes"] else [] for r in rows]
    lset = get_label_set(set_name, statements=source.statements, csv_columns=source.csv_columns,
                         codes_seen=(c for cs in codes for c in cs))
    labels = lset.encode(codes)
    outside = Counter(c for cs in codes for c in lset.outside(cs))
    if not (partial / "FINALIZED").exists():
        npyfile.shrink(partial / "signals.npy", len(rows))
        np.save(partial / "labels.npy", labels)
        records = normalise_records(pd.DataFrame(rows, columns=list(rows[0]) if rows else ["record"]))
        write_csv_atomic(records, partial / "records.csv")
        write_csv_atomic(pd.DataFrame(rejected, columns=["record", "reason"]), partial / "rejected.csv")
        (partial / "FINALIZED").touch()
    for name in OUTPUTS:
        if (partial / name).exists():
            os.replace(partial / name, out / name)
    reasons = Counter(reason_kind(r) for _, r in rejected).most_common()
    label_counts = {n: int(v) for n, v in zip(lset.names, labels.sum(axis=0), strict=True)}
    n_unlabelled = int((labels.sum(axis=1) == 0).sum()) if lset.names else 0
    manifest = manifest_dict(
        n_records=len(rows), fs=proc.fs, n_samples=proc.n_samples, label_set=set_name, label_names=lset.names,
        n_rejected=len(rejected), source=source.kind, options=options,
        extra={"n_candidates": len(cands) + len(source.rejected_upfront), "label_counts": label_counts,
               "codes_outside_label_set": dict(sorted(outside.items())),
               "rejection_reasons": dict(reasons), "n_unlabelled": n_unlabelled,
               "evaluate_labelled_only": lset.evaluate_labelled_only})
    write_json_atomic(manifest, out / MANIFEST)
    shutil.rmtree(partial)
    return PrepareSummary(out, len(rows), len(rejected), reasons, label_counts, sum(outside.values()),
                          n_unlabelled=n_unlabelled, evaluate_labelled_only=lset.evaluate_labelled_only)
