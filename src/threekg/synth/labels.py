"""The classes the generator makes, their SNOMED codes (read from the scored-class table) and prevalences.

Rhythm classes exclude one another (every record has exactly one); the other classes combine
freely except where the physiology forbids it (no PR interval or atrial premature beat in atrial
fibrillation, not both bundle branches, not both axis deviations).
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import numpy as np

import threekg

SCORED_TABLE = Path(threekg.__file__).parent / "data" / "tables" / "cinc2020_scored.csv"

RHYTHMS: tuple[str, ...] = ("NSR", "SB", "STach", "SA", "AF")
RHYTHM_PREVALENCE: tuple[float, ...] = (0.64, 0.10, 0.10, 0.06, 0.10)
"""Probability of each rhythm (sums to 1)."""

FINDING_PREVALENCE: dict[str, float] = {
    "IAVB": 0.07,
    "RBBB": 0.06,
    "LBBB": 0.03,
    "LAD": 0.08,
    "RAD": 0.03,
    "LQRSV": 0.03,
    "LQT": 0.05,
    "TInv": 0.05,
    "PAC": 0.05,
    "PVC": 0.04,
}
"""Independent probability of each non-rhythm finding, before the exclusions below."""

EXCLUSIVE: tuple[tuple[str, str], ...] = (("RBBB", "LBBB"), ("LAD", "RAD"))
"""Pairs that never occur together (the second one is dropped)."""
NOT_WITH_AF: tuple[str, ...] = ("IAVB", "PAC")
"""Findings that need organised atrial activity."""

CLASSES: tuple[str, ...] = RHYTHMS + tuple(FINDING_PREVALENCE)
"""Every class the generator can produce."""

# The table maps two codes to RBBB (59118001 and CRBBB 713427006); the generated blocks are complete,
# QRS >= 120 ms, so we write the code whose abbreviation is RBBB itself.
_PREFERRED_ABBR = {"RBBB": "RBBB", "PAC": "PAC", "PVC": "PVC"}


@cache
def class_codes() -> dict[str, str]:
    """SNOMED code of every class in :data:`CLASSES`, read from ``cinc2020_scored.csv``."""
    with SCORED_TABLE.open(newline="") as f:
        rows = list(csv.DictReader(f))
    codes: dict[str, str] = {}
    for name in CLASSES:
        want = _PREFERRED_ABBR.get(name, name)
        match = [r["snomed"] for r in rows if r["class"] == name and r["abbr"] == want]
        if len(match) != 1:
            raise ValueError(f"{SCORED_TABLE}: expected one row with class {name} and abbr {want}, got {match}")
        codes[name] = match[0]
    return codes


def sample_labels(rng: np.random.Generator) -> list[str]:
    """One multi-label diagnosis: a rhythm followed by findings, e.g. ``["NSR", "RBBB", "LAD"]``."""
    rhythm = RHYTHMS[int(rng.choice(len(RHYTHMS), p=np.asarray(RHYTHM_PREVALENCE)))]
    draws = rng.random(len(FINDING_PREVALENCE))
    found = [name for name, u in zip(FINDING_PREVALENCE, draws, strict=True) if u < FINDING_PREVALENCE[name]]
    for keep, drop in EXCLUSIVE:
        if keep in found and drop in found:
            found.remove(drop)
    if rhythm == "AF":
        found = [f for f in found if f not in NOT_WITH_AF]
    return [rhythm, *found]


def validate_labels(labels: list[str]) -> None:
    """Raise ``ValueError`` when ``labels`` is not a generator-consistent combination."""
    unknown = [x for x in labels if x not in CLASSES]
    if unknown:
        raise ValueError(f"unknown synthetic classes {unknown}; choose from {list(CLASSES)}")
    rhythms = [x for x in labels if x in RHYTHMS]
    if len(rhythms) != 1:
        raise ValueError(f"labels {labels} must contain exactly one rhythm of {list(RHYTHMS)}")
    for a, b in EXCLUSIVE:
        if a in labels and b in labels:
            raise ValueError(f"labels {labels}: {a} and {b} exclude each other")
    if "AF" in labels and any(x in labels for x in NOT_WITH_AF):
        raise ValueError(f"labels {labels}: {list(NOT_WITH_AF)} need organised atrial activity, not AF")
