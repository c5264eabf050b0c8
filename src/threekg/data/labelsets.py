"""Named label sets: how a record's codes (SNOMED, SCP or CSV columns) become a multi-hot vector.

``cinc2020`` (27 scored SNOMED codes, equivalent pairs merged: 24 classes, from
``tables/cinc2020_scored.csv``), ``cinc2020-all`` (every code seen, sorted), the PTB-XL sets
``ptbxl-superclass`` / ``ptbxl-rhythm`` / ``ptbxl-form`` / ``ptbxl-all`` (from
``scp_statements.csv``), ``csv`` (the columns of a user's labels CSV) and ``none`` (no labels).
Codes outside a set are not an error: they stay in ``records.csv`` and are counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from threekg.errors import UsageError

LABEL_SETS = ("cinc2020", "cinc2020-all", "ptbxl-superclass", "ptbxl-rhythm", "ptbxl-form", "ptbxl-all",
              "csv", "none")
"""Every label-set name :func:`get_label_set` accepts."""
PTBXL_SUPERCLASSES = ("NORM", "MI", "STTC", "CD", "HYP")


@dataclass(frozen=True)
class LabelSet:
    """``names``: the C label columns; ``mapping``: code -> the label names it switches on."""

    name: str
    names: tuple[str, ...]
    mapping: Mapping[str, tuple[str, ...]]
    needs_dx: bool = False

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


def ptbxl(name: str, statements: pd.DataFrame) -> LabelSet:
    """A PTB-XL label set from ``scp_statements.csv`` (index: SCP code)."""
    flag = {c: statements[c].fillna(0).astype(float) == 1 for c in ("diagnostic", "rhythm", "form")}
    if name == "ptbxl-superclass":
        diag = statements[flag["diagnostic"] & statements["diagnostic_class"].notna()]
        mapping = {str(code): (str(cls),) for code, cls in diag["diagnostic_class"].items()}
        return LabelSet(name, PTBXL_SUPERCLASSES, mapping)
    if name == "ptbxl-all":
        codes = [str(c) for c in statements.index]
    else:
        codes = [str(c) for c in statements.index[flag[name.removeprefix("ptbxl-")]]]
    return LabelSet(name, tuple(codes), {c: (c,) for c in codes})


def read_statements(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, index_col=0)


def get_label_set(name: str, *, statements: pd.DataFrame | None = None,
                  csv_columns: Sequence[str] | None = None, codes_seen: Iterable[str] = ()) -> LabelSet:
    """Build a label set by name.

    Args:
        statements: PTB-XL ``scp_statements.csv`` (needed by the ``ptbxl-*`` sets).
        csv_columns: label columns of the user's CSV (``csv``).
        codes_seen: every code of the accepted records (``cinc2020-all``).
    """
    if name == "cinc2020":
        return cinc2020()
    if name == "cinc2020-all":
        return every_code(name, codes_seen, needs_dx=True)
    if name.startswith("ptbxl-") and name in LABEL_SETS:
        if statements is None:
            raise UsageError(f"label set {name} needs PTB-XL's scp_statements.csv", hint="use it on PTB-XL")
        return ptbxl(name, statements)
    if name == "csv":
        if csv_columns is None:
            raise UsageError("label set csv needs --labels CSV")
        return LabelSet(name, tuple(csv_columns), {c: (c,) for c in csv_columns})
    if name == "none":
        return LabelSet(name, (), {})
    raise UsageError(f"unknown label set {name!r}; choose from {', '.join(LABEL_SETS)}")
