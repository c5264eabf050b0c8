"""A strict, defensive parser for WFDB header (``.hea``) files.

Handles the quirks of real collections: ``16x1+24`` format fields, ``1000.0(0)/mV`` gains with
baselines, lower-case units, ``# Dx:`` and ``#Dx:`` comments, ``#Age: NaN``, duplicate codes and
trailing or double commas. Every problem raises :class:`~threekg.data.errors.RecordError` with a
one-line reason; nothing here allocates more than the header text itself.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from threekg.data.errors import RecordError

MAX_HEADER_BYTES = 1 << 20
"""Headers larger than this (1 MiB) are refused: real ones are a few kB."""
MAX_SIGNALS = 256
MAX_SAMPLES = 1 << 31

_FORMAT_RE = re.compile(r"^(\d+)(?:x(\d+))?(?::(\d+))?(?:\+(\d+))?$")
_GAIN_RE = re.compile(r"^([-+]?[0-9.eE+-]+?)(?:\(([-+]?\d+)\))?(?:/(.*))?$")
_UNIT_SCALE = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}


@dataclass(frozen=True)
class SignalSpec:
    """One signal line of a header.

    ``physical (mV) = (digital - baseline) / gain * unit_scale``.
    """

    file_name: str
    fmt: int
    samples_per_frame: int
    byte_offset: int
    gain: float
    baseline: int
    units: str
    unit_scale: float
    adc_zero: int
    description: str


@dataclass(frozen=True)
class Header:
    """A parsed WFDB header: record line, signal lines and ``key: value`` comments."""

    path: Path
    record_name: str
    n_signals: int
    fs: float
    n_samples: int | None
    signals: tuple[SignalSpec, ...]
    comments: dict[str, str] = field(default_factory=dict)
    comment_lines: tuple[str, ...] = ()


def _fail(path: Path, reason: str) -> RecordError:
    return RecordError(path, reason)


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_HEADER_BYTES:
            raise _fail(path, f"header too large ({size} bytes)")
        raw = path.read_bytes()
    except OSError as exc:
        raise _fail(path, f"cannot read header ({exc.strerror or type(exc).__name__})") from None
    if b"\x00" in raw:
        raise _fail(path, "header is not text (contains NUL bytes)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _parse_int(path: Path, text: str, what: str, lo: int = 0, hi: int = MAX_SAMPLES) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _fail(path, f"bad {what} {text!r}") from None
    if not lo <= value <= hi:
        raise _fail(path, f"{what} out of range: {value}")
    return value


def _parse_record_line(path: Path, line: str) -> tuple[str, int, float, int | None]:
    parts = line.split()
    if len(parts) < 2:
        raise _fail(path, "record line needs at least a name and a signal count")
    name = parts[0]
    if "/" in name:
        raise _fail(path, "multi-segment records are not supported")
    n_sig = _parse_int(path, parts[1], "signal count", 0, MAX_SIGNALS)
    if len(parts) < 3:
        raise _fail(path, "header gives no sampling frequency")
    fs_text = parts[2].split("/")[0].split("(")[0]
    try:
        fs = float(fs_text)
    except ValueError:
        raise _fail(path, f"bad sampling frequency {parts[2]!r}") from None
    if not (math.isfinite(fs) and 0 < fs <= 100_000):
        raise _fail(path, f"bad sampling frequency {parts[2]!r}")
    n_samples = _parse_int(path, parts[3], "sample count") if len(parts) > 3 else None
    return name, n_sig, fs, n_samples


def _parse_signal_line(path: Path, line: str, index: int) -> SignalSpec:
    parts = line.split(maxsplit=8)
    if len(parts) < 2:
        raise _fail(path, f"signal line {index + 1} needs a file name and a format")
    file_name = parts[0]
    if file_name != "~" and (file_name.startswith(("/", "\\")) or ".." in Path(file_name).parts
                             or "/" in file_name or "\\" in file_name):
        raise _fail(path, f"signal file name must be a plain name: {file_name!r}")
    m = _FORMAT_RE.match(parts[1])
    if m is None:
        raise _fail(path, f"bad format field {parts[1]!r}")
    fmt = int(m.group(1))
    spf = int(m.group(2)) if m.group(2) else 1
    offset = int(m.group(4)) if m.group(4) else 0
    if offset > MAX_SAMPLES:
        raise _fail(path, f"byte offset out of range: {offset}")
    adc_zero = _parse_int(path, parts[4], "ADC zero", -(1 << 31), 1 << 31) if len(parts) > 4 else 0
    description = parts[8].strip() if len(parts) > 8 else ""
    if len(parts) < 3:
        raise _fail(path, f"signal {description or index + 1}: gain missing (uncalibrated)")
    g = _GAIN_RE.match(parts[2])
    if g is None:
        raise _fail(path, f"bad gain field {parts[2]!r}")
    try:
        gain = float(g.group(1))
    except ValueError:
        raise _fail(path, f"bad gain field {parts[2]!r}") from None
    baseline = int(g.group(2)) if g.group(2) is not None else adc_zero
    units = g.group(3) if g.group(3) is not None else "mV"
    return SignalSpec(
        file_name=file_name, fmt=fmt, samples_per_frame=spf, byte_offset=offset, gain=gain,
        baseline=baseline, units=units, unit_scale=_UNIT_SCALE.get(units.strip().lower(), math.nan),
        adc_zero=adc_zero, description=description,
    )


def _parse_comment(line: str) -> tuple[str, str] | None:
    body = line.lstrip("#").strip()
    if ":" not in body:
        return None
    key, _, value = body.partition(":")
    return key.strip().lower(), value.strip()


def parse_header(path: str | Path) -> Header:
    """Parse one ``.hea`` file.

    Raises:
        RecordError: unreadable file, malformed record or signal line, or a signal count that
            disagrees with the number of signal lines.
    """
    path = Path(path)
    text = _read_text(path)
    record_line: str | None = None
    signal_lines: list[str] = []
    comment_lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            comment_lines.append(line)
        elif record_line is None:
            record_line = line.split("#", 1)[0]
        else:
            signal_lines.append(line.split("#", 1)[0])
    if record_line is None:
        raise _fail(path, "header has no record line")
    name, n_sig, fs, n_samples = _parse_record_line(path, record_line)
    if len(signal_lines) != n_sig:
        raise _fail(path, f"header declares {n_sig} signals but lists {len(signal_lines)}")
    signals = tuple(_parse_signal_line(path, line, i) for i, line in enumerate(signal_lines))
    comments: dict[str, str] = {}
    for line in comment_lines:
        kv = _parse_comment(line)
        if kv is not None and kv[0] not in comments:
            comments[kv[0]] = kv[1]
    return Header(path, name, n_sig, fs, n_samples, signals, comments, tuple(comment_lines))


def parse_codes(value: str) -> list[str]:
    """Split a ``Dx`` value into codes: commas, spaces, duplicates and empties handled, order kept."""
    codes: list[str] = []
    for token in re.split(r"[,;\s]+", value):
        token = token.strip()
        if token and token not in codes:
            codes.append(token)
    return codes


def parse_age(value: str | None) -> float | None:
    """``"74"`` -> 74.0; ``"NaN"``, ``"Unknown"``, ``""`` or absurd ages -> ``None``."""
    if value is None:
        return None
    try:
        age = float(value.strip())
    except ValueError:
        return None
    return age if math.isfinite(age) and 0 <= age <= 130 else None


def parse_sex(value: str | None) -> str:
    """``Male``/``M``/``male`` -> ``"M"``, ``Female``/``F`` -> ``"F"``, anything else -> ``""``."""
    v = (value or "").strip().lower()
    if v in {"m", "male", "man"}:
        return "M"
    if v in {"f", "female", "woman"}:
        return "F"
    return ""
