"""Named label sets: how a record's codes (SNOMED, SCP or CSV columns) become a multi-hot vector.

``cinc2020`` (27 scored SNOMED codes, equivalent pairs merged: 24 classes, from
``tables/cinc2020_scored.csv``), ``cinc2020-all`` (every code seen, sorted), the six PTB-XL tasks
below, ``csv`` (the columns of a user's labels CSV) and ``none`` (no labels). Codes outside a set
are not an error: they stay in ``records.csv`` and are counted.

PTB-XL tasks, as the PTB-XL benchmark defines them (Strodthoff et al., "Deep learning for ECG
analysis: benchmarks and insights from PTB-XL", IEEE JBHI 2021; code: helme/ecg_ptbxl_benchmarking,
``code/utils/utils.py``, ``compute_label_aggregations`` and ``select_data``), from the record's
``scp_codes`` and ``scp_statements.csv``:

==========================  ==========================================================  ====
``ptbxl-all``               every statement                                              71
``ptbxl-diagnostic``        statements with ``diagnostic == 1``                          44
``ptbxl-subdiagnostic``     ``diagnostic_subclass`` of the diagnostic statements         23
``ptbxl-superdiagnostic``   ``diagnostic_class`` of the diagnostic statements             5
``ptbxl-form``              statements with ``form == 1``                                19
``ptbxl-rhythm``            statements with ``rhythm == 1``                              12
==========================  ==========================================================  ====

Every statement listed in ``scp_codes`` counts, whatever its likelihood (the source applies the
optional ``--ptbxl-min-likelihood`` filter, a deviation from the benchmark, before this). Label
names are sorted, the order of the benchmark's ``MultiLabelBinarizer``. The benchmark drops the
records that have no label of the task; these sets keep them in the dataset (pretraining uses them)
and mark them ``evaluate_labelled_only`` so that evaluation leaves them out. ``ptbxl-superclass``
is the former name of ``ptbxl-superdiagnostic`` and still accepted (:data:`LABEL_SET_ALIASES`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from threekg.errors import UsageError

PTBXL_TASKS = ("ptbxl-all", "ptbxl-diagnostic", "ptbxl-subdiagnostic", "ptbxl-superdiagnostic", "ptbxl-form",
               "ptbxl-rhythm")
"""The six PTB-XL benchmark tasks, named after the benchmark's ``task`` argument."""
LABEL_SETS = ("cinc2020", "cinc2020-all", *PTBXL_TASKS, "csv", "none")
"""Every label-set name :func:`get_label_set` accepts (besides the aliases)."""
LABEL_SET_ALIASES = {"ptbxl-superclass": "ptbxl-superdiagnostic"}
"""Former names, still accepted: ``{old name: current name}``."""


@dataclass(frozen=True)
class LabelSet:
    """``names``: the C label columns; ``mapping``: code -> the label names it switches on.

    ``evaluate_labelled_only``: records with no label of this set are left out of evaluation (the
    PTB-XL benchmark's rule); they stay in the dataset.
    """

    name: str
    names: tuple[str, ...]
    mapping: Mapping[str, tuple[str, ...]]
    needs_dx: bool = False
    evaluate_labelled_only: bool = False

    def encode(self, codes_per_record: Sequence[Sequence[str]]) -> np.ndarray:
        """(N, C) uint8 multi-hot labels for N records' code lists."""
        index = {n: i for i, n in enumerate(self.names)}
        out = np.zeros((len(codes_per_record), len(self.names)), dtype=np.uint8)
        for row, codes in enumerate(codes_per_record):
            for code in codes:
                for label in self.mapping.get(code, ()):
                    out[row, index[label]] = 1
        return out

    def outside(self, codes: Iterable[str]) -> list[str]:
        """Codes this set does not map."""
        return [c for c in codes if c not in self.mapping]


def _code_sort_key(code: str) -> tuple[int, int, str]:
    return (0, int(code), "") if code.isdigit() else (1, 0, code)


def cinc2020_table() -> pd.DataFrame:
    """The scored-class table (``snomed, abbr, description, class``), kept as data in one place."""
    with resources.files("threekg.data").joinpath("tables/cinc2020_scored.csv").open() as fh:
        return pd.read_csv(fh, dtype=str)


def cinc2020() -> LabelSet:
    table = cinc2020_table()
    names = tuple(dict.fromkeys(table["class"]))
    mapping = {str(code): (str(cls),) for code, cls in zip(table["snomed"], table["class"], strict=True)}
    return LabelSet("cinc2020", names, mapping, needs_dx=True)


def every_code(name: str, codes_seen: Iterable[str], needs_dx: bool) -> LabelSet:
    """One label per distinct code seen (numeric codes in numeric order, then the rest)."""
    names = tuple(sorted(set(codes_seen), key=_code_sort_key))
    return LabelSet(name, names, {c: (c,) for c in names}, needs_dx=needs_dx)


_PTBXL_AGGREGATE = {"ptbxl-subdiagnostic": "diagnostic_subclass", "ptbxl-superdiagnostic": "diagnostic_class"}


def ptbxl(name: str, statements: pd.DataFrame) -> LabelSet:
    """A PTB-XL benchmark task (one of :data:`PTBXL_TASKS`) from ``scp_statements.csv`` (index: SCP code)."""
    def flagged(column: str) -> pd.Series:
        return statements[column].fillna(0).astype(float) == 1

    if name in _PTBXL_AGGREGATE:
        column = _PTBXL_AGGREGATE[name]
        diag = statements[flagged("diagnostic") & statements[column].notna()]
        mapping = {str(code): (str(value),) for code, value in diag[column].items()}
        names = sorted({v for (v,) in mapping.values()})
    else:
        task = name.removeprefix("ptbxl-")
        codes = statements.index if task == "all" else statements.index[flagged(task)]
        names = sorted(str(c) for c in codes)
        mapping = {c: (c,) for c in names}
    return LabelSet(name, tuple(names), mapping, evaluate_labelled_only=True)


def canonical_label_set(name: str) -> str:
    """The current name of a label set (former names in :data:`LABEL_SET_ALIASES` are mapped)."""
    return LABEL_SET_ALIASES.get(name, name)


def read_statements(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, index_col=0)


def get_label_set(name: str, *, statements: pd.DataFrame | None = None,
                  csv_columns: Sequence[str] | None = None, codes_seen: Iterable[str] = ()) -> LabelSet:
    """Build a label set by name.

    Args:
        statements: PTB-XL ``scp_statements.csv`` (needed by the ``ptbxl-*`` sets).
        csv_columns: label columns of the user's CSV (``csv``).
        codes_seen: every code of the accepted records (``cinc2020-all``).

    ``name`` may be a former name (:data:`LABEL_SET_ALIASES`); the set returned carries the current one.
    """
    name = canonical_label_set(name)
    if name == "cinc2020":
        return cinc2020()
    if name == "cinc2020-all":
        return every_code(name, codes_seen, needs_dx=True)
    if name in PTBXL_TASKS:
        if statements is None:
            raise UsageError(f"label set {name} needs PTB-XL's scp_statements.csv", hint="use it on PTB-XL")
        return ptbxl(name, statements)
    if name == "csv":
        if csv_columns is None:
            raise UsageError("label set csv needs --labels CSV")
        return LabelSet(name, tuple(csv_columns), {c: (c,) for c in csv_columns})
    if name == "none":
        return LabelSet(name, (), {})
    raise UsageError(f"unknown label set {name!r}; choose from {', '.join(LABEL_SETS)} "
                     f"(former names: {', '.join(LABEL_SET_ALIASES)})")
