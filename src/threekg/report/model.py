"""Merge one or more validated ``metrics.json`` documents into one table-ready :class:`ReportData`.

Encoders keep their names unless two folders use the same name; then every clashing encoder is shown
as ``name [folder]`` so rows never silently overwrite each other. Every encoder remembers the
folder (:class:`Source`) it came from.

Replicate groups (``replicate_groups`` of metrics.json: the runs ``NAME@K`` of one method pretrained
with several seeds) are shown as one encoder, NAME, whose rows are the group's summary (averaged
over its replicates); the replicates themselves are left out of the tables and figures, their runs
are pooled under the group.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from threekg.errors import UsageError
from threekg.report.schema import MetricsFormatError

FOCUS_PREFIX = "3kg"
OTHER_GROUP = "other"
DATA_KEYS = ("path", "label_set", "split", "n_records", "fs")


@dataclass(frozen=True)
class Source:
    """One evaluation folder: ``tag`` (A, B, ...) for provenance, the metrics file and its document."""

    tag: str
    path: Path
    doc: dict[str, Any]

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.doc["data"])


@dataclass(frozen=True)
class Encoder:
    """An encoder row of the report. ``role`` is ``focus``, ``ssl``, ``random`` or ``supervised``."""

    key: str
    name: str
    source: Source
    role: str
    info: dict[str, Any]


@dataclass
class ReportData:
    """Everything the tables and figures need, keyed by encoder ``key`` and label fraction."""

    sources: list[Source]
    encoders: list[Encoder]
    fractions: list[float]
    label_names: list[str]
    groups: dict[str, list[str]]
    summary: dict[tuple[str, float], dict[str, Any]]
    runs: dict[tuple[str, float], list[dict[str, Any]]]
    paired: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)

    def encoder(self, key: str) -> Encoder:
        return next(e for e in self.encoders if e.key == key)

    def comparable(self, a: str, b: str) -> bool:
        """True when encoders ``a`` and ``b`` were evaluated on the same data (same folder, or folders
        whose ``data`` agree on path, label_set, split, n_records and fs); gains are only computed
        between comparable encoders."""
        sa, sb = self.encoder(a).source, self.encoder(b).source
        return sa is sb or all(sa.data.get(k) == sb.data.get(k) for k in DATA_KEYS)

    @property
    def focus(self) -> list[Encoder]:
        return [e for e in self.encoders if e.role == "focus"]

    @property
    def baselines(self) -> list[Encoder]:
        return [e for e in self.encoders if e.role != "focus"]


def _shown_encoders(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The encoders a report shows for one document: replicate groups in place of their members."""
    groups = doc.get("replicate_groups") or {}
    first = {ms[0]: g for g, ms in groups.items()}
    hidden = {m for ms in groups.values() for m in ms}
    out: dict[str, dict[str, Any]] = {}
    for name, info in doc["encoders"].items():
        if name in first:
            g = first[name]
            out[g] = {**info, "replicates": list(groups[g]),
                      "source": f"{len(groups[g])} replicates ({', '.join(groups[g])})"}
        elif name not in hidden:
            out[name] = info
    return out


def _role(name: str, info: dict[str, Any], focus: str | None) -> str:
    source = str(info.get("source", "")).lower()
    low = name.lower()
    if (focus is not None and name == focus) or (focus is None and low.startswith(FOCUS_PREFIX)):
        return "focus"
    if low.startswith("random") or source == "random":
        return "random"
    if low.startswith("supervised") or source == "supervised":
        return "supervised"
    return "ssl"


_ROLE_ORDER = {"focus": 0, "ssl": 1, "random": 2, "supervised": 3}


def _tags(n: int) -> list[str]:
    return [chr(ord("A") + i) if i < 26 else f"S{i + 1}" for i in range(n)]


def finite(value: Any) -> bool:
    """True for a real, finite number (not None, not NaN)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def merge(docs: list[tuple[Path, dict[str, Any]]], focus: str | None = None) -> ReportData:
    """Merge validated metrics documents ``[(metrics.json path, doc), ...]`` in the given order.

    ``focus`` names the encoder(s) whose gains are reported (default: names starting with ``3kg``).
    Raises ``ValueError`` when ``focus`` matches no encoder.
    """
    sources = [Source(tag, Path(p), d) for tag, (p, d) in zip(_tags(len(docs)), docs, strict=True)]
    shown = {s.tag: _shown_encoders(s.doc) for s in sources}
    member_of = {(s.tag, m): g for s in sources for g, ms in (s.doc.get("replicate_groups") or {}).items()
                 for m in ms}
    counts: dict[str, int] = {}
    for s in sources:
        for name in shown[s.tag]:
            counts[name] = counts.get(name, 0) + 1
    folder_names = [s.path.parent.name or str(s.path.parent) for s in sources]
    if len(set(folder_names)) < len(folder_names):
        folder_names = [f"{s.tag}:{n}" for s, n in zip(sources, folder_names, strict=True)]

    encoders: list[Encoder] = []
    keymap: dict[tuple[str, str], str] = {}
    for s, folder in zip(sources, folder_names, strict=True):
        for name, info in shown[s.tag].items():
            key = name if counts[name] == 1 else f"{name} [{folder}]"
            keymap[(s.tag, name)] = key
            encoders.append(Encoder(key, name, s, _role(name, dict(info), focus), dict(info)))
        for (tag, member), group in member_of.items():
            if tag == s.tag:
                keymap[(tag, member)] = keymap[(tag, group)]
    if focus is not None and not any(e.role == "focus" for e in encoders):
        names = sorted({e.name for e in encoders})
        raise UsageError(f"--focus {focus!r} matches no encoder; encoders are {names}")
    encoders.sort(key=lambda e: (_ROLE_ORDER[e.role], sources.index(e.source)))

    label_names: list[str] = []
    groups: dict[str, list[str]] = {}
    warnings: list[str] = []
    for s in sources:
        label_names += [c for c in s.doc["label_names"] if c not in label_names]
        for g, members in (s.doc.get("groups") or {}).items():
            if g in groups and set(groups[g]) != set(members):
                warnings.append(f"group {g!r} differs between folders; using the first definition ({groups[g]})")
            groups.setdefault(g, list(members))
    if len(sources) > 1:
        ref = sources[0].data
        for s in sources[1:]:
            diff = [k for k in DATA_KEYS if s.data.get(k) != ref.get(k)]
            if diff:
                warnings.append(
                    f"folders {sources[0].tag} and {s.tag} differ in data ({', '.join(diff)}): their rows "
                    "were not evaluated on the same test set; no gain is computed between them"
                )

    summary: dict[tuple[str, float], dict[str, Any]] = {}
    runs: dict[tuple[str, float], list[dict[str, Any]]] = {}
    paired: list[dict[str, Any]] = []
    for s in sources:
        for i, row in enumerate(s.doc["summary"]):
            if (s.tag, row["encoder"]) in member_of:
                continue  # a replicate: its group's row stands for it
            k = (keymap[(s.tag, row["encoder"])], float(row["fraction"]))
            if k in summary:
                raise MetricsFormatError(s.path, f"summary[{i}]", f"second summary for {k[0]} at fraction {k[1]}")
            summary[k] = dict(row)
        for run in s.doc["runs"]:
            runs.setdefault((keymap[(s.tag, run["encoder"])], float(run["fraction"])), []).append(dict(run))
        for row in s.doc.get("paired") or []:
            if (s.tag, row["encoder_a"]) in member_of or (s.tag, row["encoder_b"]) in member_of:
                continue
            paired.append(
                {**row, "a": keymap[(s.tag, row["encoder_a"])], "b": keymap[(s.tag, row["encoder_b"])],
                 "fraction": float(row["fraction"]), "source": s.tag}
            )
    for k in runs:
        runs[k].sort(key=lambda r: r["seed"])
        if k not in summary:
            warnings.append(f"{k[0]} at fraction {k[1]:g} has runs but no summary row; it is left out of the tables")
    fractions = sorted({f for _, f in summary})
    return ReportData(sources, encoders, fractions, label_names, groups, summary, runs, paired, warnings)


def class_groups(data: ReportData) -> list[tuple[str, list[str]]]:
    """Classes ordered by disease group: ``[(group, [class, ...]), ...]`` in the file's group order.

    A class listed in several groups is shown under the first; classes in no group go to ``other``.
    """
    seen: set[str] = set()
    out: list[tuple[str, list[str]]] = []
    for g, members in data.groups.items():
        cls = [c for c in data.label_names if c in members and c not in seen]
        seen.update(cls)
        if cls:
            out.append((g, cls))
    rest = [c for c in data.label_names if c not in seen]
    if rest:
        out.append((OTHER_GROUP, rest))
    return out
