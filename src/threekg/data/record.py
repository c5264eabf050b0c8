"""One WFDB record (header + ``.dat``/``.mat``) read into mV in the standard lead order, validated.

Rejection reasons are one line and stable; ``docs/data.md`` lists them all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from threekg.data.dat import INVALID_SAMPLE, read_dat
from threekg.data.errors import RecordError
from threekg.data.mat4 import read_mat4
from threekg.data.wfdb_header import Header, SignalSpec, parse_age, parse_codes, parse_header, parse_sex
from threekg.leads import LEADS, normalise_lead_name

ABSURD_MV = 20.0
"""A sample with |x| above this (mV) marks the record as corrupt (real ECGs stay within a few mV)."""
FLAT_MV = 0.01
"""A lead whose peak-to-peak amplitude is below this (mV, 10 uV) is flat (disconnected)."""


@dataclass
class Record:
    """A 12-lead record in physical units.

    ``signal``: (12, n_samples) float64, mV, in :data:`threekg.leads.LEADS` order; ``fs`` in Hz.
    ``codes``: the ``# Dx`` codes in header order, duplicates removed; ``has_dx`` tells whether
    the header had a ``Dx`` comment at all.
    """

    name: str
    signal: np.ndarray
    fs: float
    age: float | None = None
    sex: str = ""
    codes: list[str] = field(default_factory=list)
    has_dx: bool = False
    source_file: str = ""
    comments: dict[str, str] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[1])


def header_path(path: str | Path) -> Path:
    """``rec``, ``rec.hea``, ``rec.mat`` or ``rec.dat`` -> ``rec.hea``."""
    p = Path(path)
    if p.suffix.lower() in {".hea", ".mat", ".dat"}:
        return p.with_suffix(".hea")
    return p.with_name(p.name + ".hea")


def _lead_map(header: Header) -> dict[str, int]:
    """Standard lead name -> index of its signal line; extra (non-ECG) signals are ignored."""
    found: dict[str, int] = {}
    for i, spec in enumerate(header.signals):
        lead = normalise_lead_name(spec.description)
        if lead is None:
            continue
        if lead in found:
            raise RecordError(header.path, f"duplicate lead {lead}")
        found[lead] = i
    missing = [lead for lead in LEADS if lead not in found]
    if missing:
        names = ",".join(s.description or "?" for s in header.signals)
        raise RecordError(header.path, f"missing lead(s) {','.join(missing)} (signals: {names})")
    return found


def _read_file(header: Header, file_name: str, specs: list[SignalSpec]) -> np.ndarray:
    """Digital values (n_samples, n_signals_in_file) of one signal file."""
    path = header.path.parent / file_name
    if file_name == "~":
        raise RecordError(header.path, "lead data missing (signal file '~')")
    fmts = {s.fmt for s in specs}
    if len(fmts) != 1:
        raise RecordError(header.path, f"mixed formats in signal file {file_name}")
    if any(s.samples_per_frame != 1 for s in specs):
        raise RecordError(header.path, f"{file_name}: multi-frequency records are not supported")
    if file_name.lower().endswith(".mat"):
        val = read_mat4(path)
        if val.shape[0] != len(specs):
            raise RecordError(header.path, f"header declares {len(specs)} signals in {file_name}, "
                                           f"the file has {val.shape[0]}")
        if header.n_samples is not None and val.shape[1] != header.n_samples:
            raise RecordError(header.path, f"header declares {header.n_samples} samples, "
                                           f"{file_name} has {val.shape[1]}")
        return val.T
    return read_dat(path, specs[0].fmt, len(specs), header.n_samples, specs[0].byte_offset)


def read_record(path: str | Path) -> Record:
    """Read one WFDB record (path to its ``.hea`` or its base name) into mV, standard lead order.

    Returns:
        :class:`Record` with ``signal`` (12, n_samples) float64 mV.

    Raises:
        RecordError: any problem with header or signal data (see ``docs/data.md`` for the reasons).
    """
    hea = header_path(path)
    header = parse_header(hea)
    leads = _lead_map(header)
    by_file: dict[str, list[int]] = {}
    for i, spec in enumerate(header.signals):
        by_file.setdefault(spec.file_name, []).append(i)
    needed_files = {header.signals[i].file_name for i in leads.values()}
    digital: dict[int, np.ndarray] = {}
    n_samples: int | None = None
    for file_name, indices in by_file.items():
        if file_name not in needed_files:
            continue  # e.g. PTB's .xyz Frank leads
        values = _read_file(header, file_name, [header.signals[i] for i in indices])
        if n_samples is not None and values.shape[0] != n_samples:
            raise RecordError(hea, "signal files disagree in length")
        n_samples = values.shape[0]
        for col, i in enumerate(indices):
            digital[i] = values[:, col]
    assert n_samples is not None
    if n_samples == 0:
        raise RecordError(hea, "record has no samples")
    signal = np.empty((len(LEADS), n_samples), dtype=np.float64)
    for row, lead in enumerate(LEADS):
        spec = header.signals[leads[lead]]
        if spec.gain == 0:
            raise RecordError(hea, f"lead {lead}: zero gain")
        if not math.isfinite(spec.gain):
            raise RecordError(hea, f"lead {lead}: bad gain {spec.gain}")
        if math.isnan(spec.unit_scale):
            raise RecordError(hea, f"lead {lead}: unsupported units {spec.units!r}")
        d = digital[leads[lead]]
        invalid = INVALID_SAMPLE.get(spec.fmt)
        if d.dtype.kind in "iu" and invalid is not None:
            n_bad = int(np.count_nonzero(d == invalid))
            if n_bad:
                raise RecordError(hea, f"lead {lead}: {n_bad} invalid (missing) samples")
        signal[row] = (d.astype(np.float64) - spec.baseline) * (spec.unit_scale / spec.gain)
    validate_signal(hea, signal)
    c = header.comments
    return Record(
        name=header.record_name, signal=signal, fs=header.fs, age=parse_age(c.get("age")),
        sex=parse_sex(c.get("sex")), codes=parse_codes(c.get("dx", "")), has_dx="dx" in c,
        source_file=str(hea), comments=dict(c),
    )


def validate_signal(path: str | Path, signal: np.ndarray) -> None:
    """Reject NaN/inf, absurd amplitudes (> :data:`ABSURD_MV`) and flat leads (< :data:`FLAT_MV`).

    Args:
        signal: (12, n_samples) mV in :data:`LEADS` order.
    """
    finite = np.isfinite(signal)
    if not finite.all():
        row = int(np.argmin(finite.all(axis=1)))
        raise RecordError(path, f"lead {LEADS[row]}: NaN or infinite values")
    peak = np.abs(signal).max(axis=1)
    if (peak > ABSURD_MV).any():
        row = int(np.argmax(peak))
        raise RecordError(path, f"lead {LEADS[row]}: absurd amplitude {peak[row]:.1f} mV (limit {ABSURD_MV:g})")
    ptp = signal.max(axis=1) - signal.min(axis=1)
    if (ptp < FLAT_MV).any():
        flat = [LEADS[i] for i in np.flatnonzero(ptp < FLAT_MV)]
        raise RecordError(path, f"flat lead(s) {','.join(flat)} (peak-to-peak < {FLAT_MV:g} mV)")
