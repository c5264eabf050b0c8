"""Write synthetic records as a PhysioNet/CinC-2020-style tree (WFDB header + MATLAB v4 ``.mat``).

Layout: ``OUT/g1/SYN000001.hea`` + ``.mat`` ... up to 1,000 records per ``gK`` folder, like the
challenge's ``g1``, ``g2``... plus ``OUT/synth.json`` (the options, so a resumed run can refuse to
mix two different data sets). Header::

    SYN000001 12 500 5000
    SYN000001.mat 16+24 1000/mV 16 0 FIRST CHECKSUM 0 I
    ...
    #Age: 63
    #Sex: Male
    #Dx: 426783006,59118001
    #Rx: Unknown
    #Hx: Unknown
    #Sx: Unknown
    #Patient: SYNP000001

The ``.mat`` holds variable ``val``, int16, 12 x N, 1000 units per mV (1 uV resolution).
The ``.mat`` is written first, then the header to a temporary name that is renamed, so a record is
complete exactly when its ``.hea`` exists, and an interrupted run resumes where it stopped
(rewriting any partial ``.mat``).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from threekg import __version__
from threekg.errors import UsageError
from threekg.leads import LEADS
from threekg.progress import progress_bar
from threekg.synth.generate import generate_records
from threekg.synth.labels import CLASSES, RHYTHMS, class_codes, resolve_prevalence

GAIN_PER_MV = 1000
RECORDS_PER_FOLDER = 1000
CHUNK = 64
"""Records rendered together (a fixed number, so the work split never depends on the worker count)."""
MAX_RECORDS = 999_999
GENERATORS = ("dipole", "deepfake")
"""``generator`` names: the dipole model of this package, the DeepFake-ECG GAN (optional extra)."""
DIPOLE_REVISION = 4
"""Revision of the dipole model's output: raised when the same options and seed give other records
(2: calibrated against PTB-XL-500, all 24 scored classes, measured variability and noise; 3: the
normal beat from the PTB-XL shape model, ``threekg.synth.shape_model``; issue 14; 4: variability and
noise levels drawn jointly from a model of real records, ``threekg.synth.levels``, beat-to-beat shape
variation). A study's synth
step includes it in its fingerprint, so an older synthetic corpus is generated again."""
MAX_SAMPLES = 1_000_000
"""Samples per lead and record at most (2,000 s at 500 Hz): bounds the memory of one record."""
MIN_FS, MIN_SECONDS = 50.0, 1.0
"""The smallest sampling rate (Hz) and length (s) accepted: the waves need a few samples each (render
fails on records of one or two samples at a few Hz), and a record should hold about one beat."""


def record_name(index: int) -> str:
    """``SYN000001`` for index 0."""
    return f"SYN{index + 1:06d}"


def record_path(out: Path, index: int) -> Path:
    """Base path (no suffix) of record ``index`` under ``out``."""
    return out / f"g{index // RECORDS_PER_FOLDER + 1}" / record_name(index)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def to_digital(ecg: np.ndarray, name: str) -> np.ndarray:
    """(12, T) mV -> int16 at 1000/mV; raises when a value does not fit (never clips silently)."""
    val = np.rint(np.asarray(ecg, dtype=np.float64) * GAIN_PER_MV)
    if not np.all(np.isfinite(val)) or np.abs(val).max() > np.iinfo(np.int16).max:
        raise ValueError(f"{name}: signal outside the int16 range at {GAIN_PER_MV}/mV (|x| > 32.767 mV)")
    return val.astype(np.int16)


def checksum(val: np.ndarray) -> np.ndarray:
    """WFDB checksum per lead: the sum of the samples modulo 65536 as a signed 16-bit number."""
    s = val.astype(np.int64).sum(axis=1) % 65536
    return np.where(s >= 32768, s - 65536, s)


def header_text(name: str, val: np.ndarray, fs: float, meta: dict[str, Any]) -> str:
    """The ``.hea`` text of one record (digital samples ``val`` (12, T) int16)."""
    fs_text = str(int(fs)) if float(fs).is_integer() else repr(float(fs))
    lines = [f"{name} {len(LEADS)} {fs_text} {val.shape[1]}"]
    for lead, first, cks in zip(LEADS, val[:, 0], checksum(val), strict=True):
        lines.append(f"{name}.mat 16+24 {GAIN_PER_MV}/mV 16 0 {int(first)} {int(cks)} 0 {lead}")
    lines += [
        f"#Age: {meta['age']}",
        f"#Sex: {meta['sex']}",
        f"#Dx: {','.join(meta['codes'])}",
        "#Rx: Unknown",
        "#Hx: Unknown",
        "#Sx: Unknown",
        f"#Patient: {meta['patient_id']}",
    ]
    return "\n".join(lines) + "\n"


def write_record(base: Path, ecg: np.ndarray, fs: float, meta: dict[str, Any]) -> None:
    """Write ``base.mat`` then ``base.hea`` (atomically, last) for one (12, T) mV signal."""
    val = to_digital(ecg, str(base))
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"val": val}, format="4")
    base.with_suffix(".mat").write_bytes(buf.getvalue())  # no rename needed: the .hea marks completion
    _atomic_write(base.with_suffix(".hea"), header_text(base.name, val, fs, meta).encode())


def _blas_single_thread() -> AbstractContextManager[Any]:
    """Tiny matrix products: BLAS threads only add contention (10x slower on a busy 2-core machine)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return nullcontext()
    return threadpool_limits(1)


def _write_chunk(out: Path, indices: list[int], seed: int, fs: float, seconds: float, rpp: int,
                 prevalence: dict[str, float]) -> int:
    with _blas_single_thread():
        ecg, metas = generate_records(indices, seed, fs, seconds, rpp, prevalence=prevalence)
        for signal, meta in zip(ecg, metas, strict=True):
            base = record_path(out, meta["index"])
            base.parent.mkdir(parents=True, exist_ok=True)
            write_record(base, signal, fs, meta)
    return len(indices)


def _options(n: int, seed: int, fs: float, seconds: float, rpp: int,
             prevalence: dict[str, float] | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {"seed": seed, "fs": fs, "seconds": seconds, "recordings_per_patient": rpp}
    if prevalence is not None:
        options["prevalence"] = prevalence
    return options


def _check_options(out: Path, n: int, options: dict[str, Any], about: dict[str, Any] | None = None) -> None:
    """Refuse a tree made with other ``options``; (re)write ``synth.json`` (``about``: default, the classes)."""
    info = out / "synth.json"
    if info.exists():
        old = json.loads(info.read_text())
        if old.get("options") != options:
            raise UsageError(f"{info}: existing tree was made with {old.get('options')}, not {options}",
                             hint="use another folder, or the options it was made with")
    codes = class_codes()
    _atomic_write(info, json.dumps({
        "threekg_version": __version__,
        "n_records": max(n, int(json.loads(info.read_text())["n_records"]) if info.exists() else 0),
        "options": options,
        **(about if about is not None else {
            "classes": {c: codes[c] for c in CLASSES},
            "rhythm_prevalence": {c: p for c, p in options["prevalence"].items() if c in RHYTHMS},
            "finding_prevalence": {c: p for c, p in options["prevalence"].items() if c not in RHYTHMS},
        }),
    }, indent=2).encode())


def missing_records(out: Path, n: int, size: int,
                    path_of: Callable[[Path, int], Path] | None = None) -> Iterator[tuple[int, list[int]]]:
    """``(block, records)`` for each block of ``size`` records of 0..n-1 with records not yet written
    (no ``.hea``: the header is written after the signal file, so a record with one is complete).
    ``path_of(out, index)``: the record's base path (default :func:`record_path`)."""
    path_of = path_of or record_path
    for block in range((n + size - 1) // size):
        todo = [i for i in range(block * size, min(n, (block + 1) * size))
                if not path_of(out, i).with_suffix(".hea").exists()]
        if todo:
            yield block, todo


def _check_arguments(n: int, seed: int, fs: float, seconds: float, recordings_per_patient: int) -> None:
    """Refuse impossible arguments (UsageError, a ValueError) before anything is written."""
    if not 0 < n <= MAX_RECORDS:
        raise UsageError(f"n must be in 1..{MAX_RECORDS}, got {n}")
    if seed < 0:
        raise UsageError(f"seed must be >= 0, got {seed}")
    if not (MIN_FS <= fs < np.inf and MIN_SECONDS <= seconds < np.inf):
        raise UsageError(f"fs={fs:g} Hz, seconds={seconds:g}: the generator needs finite fs >= {MIN_FS:g} Hz and "
                         f"seconds >= {MIN_SECONDS:g}")
    if round(fs * seconds) > MAX_SAMPLES:
        raise UsageError(f"fs x seconds = {fs:g} Hz x {seconds:g} s is {round(fs * seconds):,} samples per record; "
                         f"at most {MAX_SAMPLES:,} are supported", hint="lower fs or seconds")
    if recordings_per_patient < 1:
        raise UsageError(f"recordings_per_patient must be >= 1, got {recordings_per_patient}")


def write_challenge_tree(
    out: str | Path,
    n: int,
    seed: int,
    fs: float = 500.0,
    seconds: float = 10.0,
    recordings_per_patient: int = 1,
    workers: int | None = None,
    progress: bool = True,
    generator: str = "dipole",
    prevalence: Mapping[str, float] | None = None,
) -> Path:
    """Write records 0..n-1 of data set ``seed`` under ``out``; skips records already complete.

    ``workers``: processes (default: the number of CPUs); the output does not depend on it.
    ``generator``: ``dipole`` (this module) or ``deepfake`` (:mod:`threekg.synth.deepfake`).
    ``prevalence``: class probabilities overriding the defaults (dipole only; e.g. ``{"AF": 0.2}``, see
    :func:`threekg.synth.labels.resolve_prevalence`); part of the options a resumed run must repeat.
    Returns ``out`` as a Path.
    """
    if prevalence is not None and generator != "dipole":
        raise UsageError(f"prevalences apply to the labelled dipole generator, not {generator!r}")
    if generator == "deepfake":
        from threekg.synth.deepfake import write_deepfake_tree

        return write_deepfake_tree(out, n, seed, fs, seconds, recordings_per_patient, workers, progress)
    if generator != "dipole":
        raise UsageError(f"unknown generator {generator!r}; choose from {', '.join(GENERATORS)}")
    _check_arguments(n, seed, fs, seconds, recordings_per_patient)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    prev = resolve_prevalence(prevalence)
    _check_options(out, n, _options(n, seed, fs, seconds, recordings_per_patient, prev))
    chunks = [todo for _, todo in missing_records(out, n, CHUNK)]
    todo = sum(len(c) for c in chunks)
    workers = workers or os.cpu_count() or 1
    with progress_bar(n, f"synth -> {out}", "rec", initial=n - todo, disable=not progress) as bar:
        if workers == 1 or len(chunks) <= 1:
            for chunk in chunks:
                bar.update(_write_chunk(out, chunk, seed, fs, seconds, recordings_per_patient, prev))
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(_write_chunk, out, c, seed, fs, seconds, recordings_per_patient, prev)
                           for c in chunks]
                for fut in futures:
                    bar.update(fut.result())
    return out
