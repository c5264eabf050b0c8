"""Disease subgroups (rhythm, conduction, axis, morphology/ST-T, ...) from ``subgroups.csv``.

The table ``src/threekg/data/tables/subgroups.csv`` has columns ``label_set, class, group``;
docs/evaluate.md explains the mapping. Classes are looked up by name across every label set
(a name found in two sets names the same finding: IRBBB, LPR, PAC and PVC in cinc2020 and the
PTB-XL statements, NORM and STTC across the PTB-XL tasks); classes absent from the table are
reported under no group (never silently moved into one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources

import numpy as np
import pandas as pd


def load_groups(label_names: Sequence[str]) -> dict[str, list[str]]:
    """``{group: [class, ...]}`` for the classes of ``label_names`` found in ``subgroups.csv``."""
    with resources.as_file(resources.files("threekg.data") / "tables" / "subgroups.csv") as p:
        table = pd.read_csv(p, dtype=str)
    group_of = dict(zip(table["class"], table["group"], strict=True))
    groups: dict[str, list[str]] = {}
    for name in label_names:
        if name in group_of:
            groups.setdefault(group_of[name], []).append(name)
    return groups


def group_means(per_class: Mapping[str, float], groups: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """Mean of the finite per-class values of each group (NaN when none of its classes was scored)."""
    out: dict[str, float] = {}
    for group, members in groups.items():
        vals = [per_class[m] for m in members if m in per_class and np.isfinite(per_class[m])]
        out[group] = float(np.mean(vals)) if vals else float("nan")
    return out
