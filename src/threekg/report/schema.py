"""Read and validate ``metrics.json`` written by ``threekg evaluate`` (the contract in docs/architecture.md).

Validation is strict about what the report needs and tolerant of everything else: extra fields are
kept untouched, and the optional fields (``groups``, ``paired``, ``diagnostics``, ``group_auroc``, ``challenge_metric``,
``dropped_classes``, ``n_train``, ``n_seeds``, ...) may be absent or ``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from threekg.errors import DataError

METRICS_FILE = "metrics.json"

READABLE_VERSIONS = (1,)
"""``schema_version`` values of ``metrics.json`` this report reads (the writer's version is
``threekg.evaluate.outputs.METRICS_SCHEMA_VERSION``). A file without the field predates versioning:
it is read as version 1 when it has ``runs`` (the layout version 1 fixed)."""

_TOP_REQUIRED = ("threekg_version", "data", "label_names", "encoders", "runs", "summary")
_DATA_REQUIRED = ("path", "n_records", "fs", "label_set", "split")
_RUN_REQUIRED = ("encoder", "fraction", "seed", "macro_auroc", "per_class_auroc", "macro_auprc")
_SUMMARY_REQUIRED = ("encoder", "fraction", "macro_auroc_mean", "ci_low", "ci_high")
_PAIRED_REQUIRED = ("encoder_a", "encoder_b", "fraction", "diff_mean", "ci_low", "ci_high")


class MetricsFormatError(DataError):
    """A ``metrics.json`` that the report cannot use; ``str()`` is ``"<file>: <field>: <reason>"``."""

    def __init__(self, path: Path, field: str, reason: str) -> None:
        self.path = Path(path)
        self.field = field
        self.reason = reason
        super().__init__(f"{self.path}: {field}: {reason}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Checker:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, field: str, reason: str) -> MetricsFormatError:
        return MetricsFormatError(self.path, field, reason)

    def mapping(self, obj: Any, field: str) -> Mapping[str, Any]:
        if not isinstance(obj, Mapping):
            raise self.fail(field, f"expected an object, got {type(obj).__name__}")
        return obj

    def require(self, obj: Mapping[str, Any], keys: tuple[str, ...], prefix: str) -> None:
        for key in keys:
            if key not in obj:
                raise self.fail(f"{prefix}{key}", "required field is missing")

    def number(self, value: Any, field: str, *, nullable: bool = False, unit: bool = False) -> None:
        """A finite number (or null / NaN when ``nullable``); ``unit`` also asks for [0, 1]."""
        if value is None and nullable:
            return
        if not _is_number(value):
            raise self.fail(field, f"expected a number, got {value!r}")
        if math.isnan(value):
            if nullable:
                return
            raise self.fail(field, "is NaN")
        if unit and not 0.0 <= value <= 1.0:
            raise self.fail(field, f"{value!r} is outside [0, 1]")

    def number_map(self, obj: Any, field: str) -> None:
        for key, value in self.mapping(obj, field).items():
            self.number(value, f"{field}.{key}", nullable=True, unit=True)

    def rows(self, value: Any, field: str, required: tuple[str, ...],
             encoders: Collection[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """``(prefix, row)`` of a non-empty list of per-(encoder, fraction) rows, each checked for its
        ``required`` fields, a listed ``encoder`` and a valid ``fraction``."""
        if not isinstance(value, list) or not value:
            raise self.fail(field, "expected a non-empty list")
        for i, row in enumerate(value):
            p = f"{field}[{i}]"
            self.require(self.mapping(row, p), required, f"{p}.")
            if row["encoder"] not in encoders:
                raise self.fail(f"{p}.encoder", f"encoder {row['encoder']!r} is not listed in `encoders`")
            self.fraction(row["fraction"], f"{p}.fraction")
            yield p, row

    def fraction(self, value: Any, field: str) -> None:
        self.number(value, field)
        if not 0.0 < value <= 1.0:
            raise self.fail(field, f"label fraction {value!r} is outside (0, 1]")


def validate_metrics(doc: Any, path: Path) -> dict[str, Any]:
    """Check ``doc`` (the parsed JSON of ``path``) against the contract and return it.

    Raises :class:`MetricsFormatError` naming ``path``, the first offending field (e.g.
    ``runs[3].macro_auroc``) and the reason.
    """
    c = _Checker(path)
    top = c.mapping(doc, "<top level>")
    _check_version(c, top)
    c.require(top, _TOP_REQUIRED, "")
    data = c.mapping(top["data"], "data")
    c.require(data, _DATA_REQUIRED, "data.")
    labels = top["label_names"]
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise c.fail("label_names", "expected a list of strings")
    encoders = c.mapping(top["encoders"], "encoders")
    if not encoders:
        raise c.fail("encoders", "no encoder listed")
    for name, info in encoders.items():
        c.mapping(info, f"encoders.{name}")
    replicates = c.mapping(top.get("replicate_groups") or {}, "replicate_groups")
    for group, members in replicates.items():
        if group in encoders:
            raise c.fail(f"replicate_groups.{group}", "a replicate group cannot have an encoder's name")
        if not isinstance(members, list) or len(members) < 2 or any(m not in encoders for m in members):
            raise c.fail(f"replicate_groups.{group}", "expected a list of two or more names from `encoders`")
    names = set(encoders) | set(replicates)  # rows may name an encoder or a replicate group
    if top.get("groups") is not None:
        for group, members in c.mapping(top["groups"], "groups").items():
            if not isinstance(members, list):
                raise c.fail(f"groups.{group}", "expected a list of class names")

    for p, run in c.rows(top["runs"], "runs", _RUN_REQUIRED, encoders):
        c.number(run["macro_auroc"], f"{p}.macro_auroc", unit=True)
        c.number(run["macro_auprc"], f"{p}.macro_auprc", nullable=True, unit=True)
        c.number_map(run["per_class_auroc"], f"{p}.per_class_auroc")
        if run.get("group_auroc") is not None:
            c.number_map(run["group_auroc"], f"{p}.group_auroc")
        c.number(run.get("challenge_metric"), f"{p}.challenge_metric", nullable=True)

    for p, row in c.rows(top["summary"], "summary", _SUMMARY_REQUIRED, names):
        c.number(row["macro_auroc_mean"], f"{p}.macro_auroc_mean", unit=True)
        for key in ("ci_low", "ci_high"):  # NaN/null: the evaluation could not bootstrap (shown as n/a)
            c.number(row[key], f"{p}.{key}", nullable=True, unit=True)
        lo, hi = row["ci_low"], row["ci_high"]
        if lo is not None and hi is not None and not (math.isnan(lo) or math.isnan(hi)) and lo > hi:
            raise c.fail(f"{p}.ci_low", f"ci_low {row['ci_low']} > ci_high {row['ci_high']}")
        for key in ("per_class_auroc_mean", "group_auroc_mean"):
            if row.get(key) is not None:
                c.number_map(row[key], f"{p}.{key}")

    if top.get("paired") is not None:
        if not isinstance(top["paired"], list):
            raise c.fail("paired", "expected a list")
        for i, row in enumerate(top["paired"]):
            p = f"paired[{i}]"
            c.require(c.mapping(row, p), _PAIRED_REQUIRED, f"{p}.")
            for key in ("encoder_a", "encoder_b"):
                if row[key] not in names:
                    raise c.fail(f"{p}.{key}", f"encoder {row[key]!r} is not listed in `encoders`")
            c.fraction(row["fraction"], f"{p}.fraction")
            c.number(row["diff_mean"], f"{p}.diff_mean")
            for key in ("ci_low", "ci_high"):
                c.number(row[key], f"{p}.{key}", nullable=True)
    if top.get("diagnostics") is not None:
        for name, diag in c.mapping(top["diagnostics"], "diagnostics").items():
            if name not in names:
                raise c.fail(f"diagnostics.{name}", f"encoder {name!r} is not listed in `encoders`")
            d = c.mapping(diag, f"diagnostics.{name}")
            for key in ("effective_rank", "dims_99", "alignment", "uniformity", "shortcut_r2", "peak_train_r2"):
                c.number(d.get(key), f"diagnostics.{name}.{key}", nullable=True)
    return dict(top)


def _check_version(c: _Checker, top: Mapping[str, Any]) -> None:
    """Refuse a version this report cannot read, before any field is read the wrong way."""
    from threekg import __version__

    readable = ", ".join(str(v) for v in READABLE_VERSIONS)
    if "schema_version" not in top:
        if "results" in top and "runs" not in top:
            raise c.fail("schema_version", "missing, and the file has `results` where version 1 has `runs`: written "
                                           "by an older threekg evaluate; run `threekg evaluate` again")
        return
    version = top["schema_version"]
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise c.fail("schema_version", f"version {version!r} is unknown to threekg {__version__}, which reads "
                                       f"version {readable}; use the threekg that wrote the file, or run "
                                       "`threekg evaluate` again")


def metrics_path(path: Path) -> Path:
    """``path`` itself when it is a file, else ``path / metrics.json``."""
    path = Path(path)
    return path if path.is_file() else path / METRICS_FILE


def load_metrics(path: Path | str) -> dict[str, Any]:
    """Load and validate ``DIR/metrics.json`` (``path`` may be the folder or the file itself).

    Returns the parsed document (a dict following docs/architecture.md, extra fields kept).
    Raises :class:`MetricsFormatError` naming the file and the missing or invalid field.
    """
    file = metrics_path(Path(path))
    if not file.is_file():
        raise MetricsFormatError(file, "<file>", "not found (run `threekg evaluate ... --out DIR` first)")
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MetricsFormatError(file, "<file>", f"not valid JSON ({exc})") from exc
    return validate_metrics(doc, file)
