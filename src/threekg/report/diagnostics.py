"""The representation-diagnostics table: one row per diagnostic, one column per encoder, and a one-line reading.

The reading says what the number measures and how each encoder compares with the random encoder of the
same evaluation (when there is one), so that a null probe result can be explained: e.g. "3kg 0.43 vs
random 0.17: encodes more of where the beats fall than random (the timing shortcut)". Definitions are in
docs/evaluate.md ("Diagnostics"); the values come from ``metrics.json["diagnostics"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from threekg.report.model import Encoder, ReportData, finite
from threekg.report.tables import MISSING, Cell, Table, fraction_label

Getter = Callable[[dict[str, Any]], Any]
_SPLITS = {"all": "all splits", "test": "the test split"}


@dataclass(frozen=True)
class Row:
    """One diagnostic: how to get and show its value and how to read a difference from random."""

    label: str
    get: Getter
    meaning: str
    higher: str  # what "higher than random" means for this diagnostic
    lower: str
    tolerance: float  # differences within it read as "about the same as random"
    relative: bool = False  # tolerance relative to the random value
    show: Callable[[float, dict[str, Any]], str] = lambda v, d: f"{v:.3f}"


def _knn(fraction: float) -> Getter:
    def get(d: dict[str, Any]) -> Any:
        return next((r.get("macro_auroc_mean") for r in d.get("knn") or [] if r.get("fraction") == fraction), None)
    return get


def _inv(name: str) -> Getter:
    return lambda d: (d.get("invariance") or {}).get(name)


def _of_max(v: float, d: dict[str, Any]) -> str:
    return f"{v:.1f} of {d['max_rank']}" if finite(d.get("max_rank")) else f"{v:.1f}"


def _dims(v: float, d: dict[str, Any]) -> str:
    return f"{v:.0f} of {d['embed_dim']}" if finite(d.get("embed_dim")) else f"{v:.0f}"


def _rows(fractions: list[float]) -> list[Row]:
    knn = [Row(f"kNN macro AUROC ({fraction_label(f)} labels)", _knn(f),
               "labels of the 20 nearest training records (cosine), 0.5 = chance",
               "neighbourhoods carry more label information than random's",
               "neighbourhoods carry less label information than random's", 0.02) for f in fractions]
    inv = "1 = the embedding does not move, 0 = it moves as far as another record's"
    return [
        *knn,
        Row("Effective rank", lambda d: d.get("effective_rank"), "how many directions the records spread along "
            "(exp entropy of the singular values; few = dimensional collapse)", "uses more dimensions than random",
            "uses fewer dimensions than random", 0.1, relative=True, show=_of_max),
        Row("Dimensions for 99% of the variance", lambda d: d.get("dims_99"), "principal components holding 99% "
            "of the variance", "spreads its variance over more dimensions than random",
            "concentrates its variance in fewer dimensions than random", 0.1, relative=True, show=_dims),
        Row("Alignment (two 3KG views)", lambda d: d.get("alignment"), "mean squared distance between the "
            "normalised embeddings of two 3KG views of a crop (0 = identical, 4 = opposite)",
            "its views lie farther apart than random's", "its views lie closer together than random's", 0.1,
            relative=True),
        Row("Uniformity", lambda d: d.get("uniformity"), "log mean exp(-2 x squared distance) between records "
            "(0 = all in one direction, about -4 = spread over the sphere)", "is less spread out than random's",
            "is spread more evenly than random's", 0.1, relative=True),
        Row("Invariance to 3KG rotation + scaling", _inv("rotation_scaling"), inv,
            "is more invariant to rotation + scaling than random", "is less invariant to rotation + scaling than random",
            0.05),
        Row("Invariance to a time mask", _inv("time_mask"), inv, "is more invariant to the time mask than random",
            "is less invariant to the time mask than random", 0.05),
        Row("Invariance to a time shift (≤ 0.5 s)", _inv("time_shift"), inv,
            "is more invariant to moving the window than random",
            "is less invariant to moving the window than random: it depends on where the crop is cut", 0.05),
        Row("Timing shortcut: R² of the cycle phase at the crop edges", lambda d: d.get("shortcut_r2"),
            "cross-validated R² of a ridge read-out of where in the cardiac cycle the crop starts and ends "
            "(0 = not encoded, 1 = fully)", "encodes more of where the beats fall than random (the timing shortcut)",
            "encodes less beat timing than random", 0.05),
        Row("R² of the R-peak train in the crop", lambda d: d.get("peak_train_r2"),
            "the same read-out of where every R peak falls (50 ms bins)", "encodes more R-peak positions than random",
            "encodes fewer R-peak positions than random", 0.05),
    ]


def _diag(e: Encoder) -> dict[str, Any] | None:
    d = (e.source.doc.get("diagnostics") or {}).get(e.name)
    return d if isinstance(d, dict) else None


def _reference(data: ReportData, e: Encoder, with_diag: list[Encoder]) -> Encoder | None:
    """The random encoder evaluated on the same data as ``e`` (same folder first)."""
    randoms = [r for r in with_diag if r.role == "random" and r is not e and data.comparable(r.key, e.key)]
    same = [r for r in randoms if r.source is e.source]
    found = same or randoms
    return found[0] if found else None


def _reading(row: Row, data: ReportData, encoders: list[Encoder], values: dict[str, float | None]) -> str:
    if all(e.role == "random" for e in encoders):
        return f"{row.meaning}."
    parts = []
    for e in encoders:
        if e.role == "random":
            continue
        ref = _reference(data, e, encoders)
        v, r = values[e.key], values.get(ref.key) if ref else None
        if v is None or ref is None or r is None:
            continue
        tol = row.tolerance * abs(r) if row.relative else row.tolerance
        verdict = ("about the same as random" if abs(v - r) <= tol else row.higher if v > r else row.lower)
        parts.append(f"{e.key} {v:.3g} vs {ref.key} {r:.3g}: {verdict}")
    return f"{row.meaning}. " + ("; ".join(parts) if parts else "(no random encoder to compare with)")


def diagnostics_table(data: ReportData) -> Table | None:
    """Rows = diagnostics, columns = encoders with diagnostics, last column = the reading; None when no encoder has any."""
    encoders = [e for e in data.encoders if _diag(e) is not None]
    if not encoders:
        return None
    fractions = sorted({float(r["fraction"]) for e in encoders for r in (_diag(e) or {}).get("knn") or []})
    rows = []
    notes = []
    for row in _rows(fractions):
        cells, values = [Cell(row.label)], {}
        for e in encoders:
            d = _diag(e) or {}
            v = row.get(d)
            values[e.key] = float(v) if finite(v) else None
            cells.append(Cell(row.show(float(v), d)) if finite(v) else Cell(MISSING, title=_why_missing(row, d)))
        if all(v is None for v in values.values()):
            continue
        rows.append([*cells, Cell(_reading(row, data, encoders, values))])
    for e in encoders:
        d = _diag(e) or {}
        skipped = (d.get("shortcut") or {}).get("skipped")
        if skipped:
            notes.append(f"{e.key}: timing-shortcut test skipped: {skipped}")
        views = d.get("views") or {}
        if views:
            notes.append(f"{e.key}: {views.get('n_crops')} crops of {views.get('crop_samples')} samples from "
                         f"{views.get('n_records')} records ({_SPLITS.get(str(views.get('records')), 'all splits')}), "
                         f"seed {views.get('seed')}; "
                         f"shortcut read-out on {(d.get('shortcut') or {}).get('n_crops', MISSING)} crops "
                         f"with R peaks around them.")
    return Table(["Diagnostic", *(e.key for e in encoders), "Reading"], rows, notes=notes)


def _why_missing(row: Row, d: dict[str, Any]) -> str:
    skipped = (d.get("shortcut") or {}).get("skipped")
    if "R²" in row.label and skipped:
        return str(skipped)
    return "not computed"
