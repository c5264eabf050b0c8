"""The classes the generator makes (all 24 scored CinC 2020 classes), their codes and prevalences.

Rhythm classes exclude one another (every record has exactly one); the other classes ("findings")
are drawn independently and then made consistent with the physiology (:data:`EXCLUSIVE_GROUPS`,
:data:`IMPLIES`, :data:`NOT_WITH_RHYTHM`). Prevalences are configurable
(:func:`resolve_prevalence`, ``threekg synth --prevalence AF=0.2,PVC=0.1``).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import numpy as np

import threekg
from threekg.errors import UsageError

SCORED_TABLE = Path(threekg.__file__).parent / "data" / "tables" / "cinc2020_scored.csv"

RHYTHMS: tuple[str, ...] = ("NSR", "SB", "STach", "SA", "AF", "AFL", "Brady", "PR")
RHYTHM_PREVALENCE: tuple[float, ...] = (0.58, 0.09, 0.09, 0.05, 0.09, 0.04, 0.03, 0.03)
"""Default probability of each rhythm (sums to 1)."""

FINDING_PREVALENCE: dict[str, float] = {
    "IAVB": 0.06,
    "LPR": 0.03,
    "RBBB": 0.05,
    "IRBBB": 0.04,
    "LBBB": 0.03,
    "NSIVCB": 0.03,
    "LAnFB": 0.04,
    "LAD": 0.06,
    "RAD": 0.03,
    "LQRSV": 0.03,
    "LQT": 0.04,
    "TInv": 0.04,
    "TAb": 0.05,
    "QAb": 0.04,
    "PAC": 0.05,
    "PVC": 0.04,
}
"""Default independent probability of each finding, before the exclusions below lower some of them."""

EXCLUSIVE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("RBBB", "IRBBB", "LBBB", "NSIVCB"),  # one conduction pattern per ventricle
    ("LBBB", "LAnFB"),  # a left bundle branch block already blocks the anterior fascicle
    ("LAD", "RAD"),
    ("LAnFB", "RAD"),
    ("LAnFB", "QAb", "NSIVCB"),  # each sets the initial QRS forces; the generator makes one at a time
    ("TInv", "TAb"),
)
"""At most one class of each group is kept (the first drawn, in this order)."""
IMPLIES: dict[str, str] = {"LAnFB": "LAD"}
"""A left anterior fascicular block has, by definition, a left axis deviation (< -45 degrees)."""
_NO_ATRIAL_CONDUCTION = ("IAVB", "LPR", "PAC")
NOT_WITH_RHYTHM: dict[str, tuple[str, ...]] = {
    "AF": _NO_ATRIAL_CONDUCTION,
    "AFL": _NO_ATRIAL_CONDUCTION,
    "Brady": _NO_ATRIAL_CONDUCTION,
    "PR": (*_NO_ATRIAL_CONDUCTION, "RBBB", "IRBBB", "LBBB", "NSIVCB", "LAnFB", "LAD", "RAD", "QAb", "TInv",
           "TAb", "LQT"),
}
"""Findings a rhythm cannot have: no PR interval or atrial premature beat without sinus P waves
(fibrillation, flutter, junctional bradycardia); a paced QRS has its own conduction, axis and
repolarisation."""

CLASSES: tuple[str, ...] = RHYTHMS + tuple(FINDING_PREVALENCE)
"""Every class the generator can produce (the 24 scored classes of CinC 2020)."""

# The table maps two codes to RBBB (59118001 and CRBBB 713427006), PAC (+SVPB) and PVC (+VPB); we
# write the code whose abbreviation is the class name itself.
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


def default_prevalence() -> dict[str, float]:
    """Every class's default prevalence (rhythms sum to 1; findings independent)."""
    return {**dict(zip(RHYTHMS, RHYTHM_PREVALENCE, strict=True)), **FINDING_PREVALENCE}


def resolve_prevalence(overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """Default prevalences with ``overrides`` applied.

    Findings take the given probability. Rhythms given keep their value and the rhythms not given are
    scaled so that all rhythms sum to 1. Raises ``UsageError`` (a ValueError) for unknown classes, values outside
    0-1, or rhythm values that cannot sum to 1.
    """
    out = default_prevalence()
    overrides = dict(overrides or {})
    for name, p in overrides.items():
        if name not in out:
            raise UsageError(f"unknown class {name!r} in prevalences; choose from {', '.join(CLASSES)}")
        if not 0.0 <= float(p) <= 1.0:
            raise UsageError(f"prevalence of {name} must be within 0-1, got {p}")
        out[name] = float(p)
    given = [r for r in RHYTHMS if r in overrides]
    rest = [r for r in RHYTHMS if r not in overrides]
    fixed = sum(out[r] for r in given)
    if fixed > 1.0 + 1e-9 or (not rest and abs(fixed - 1.0) > 1e-6):
        raise UsageError(f"rhythm prevalences {', '.join(f'{r}={out[r]}' for r in given)} must sum to "
                         f"{'at most' if rest else 'exactly'} 1")
    if rest:
        base = sum(default_prevalence()[r] for r in rest)
        for r in rest:
            out[r] = (1.0 - fixed) * default_prevalence()[r] / base
    return out


def parse_prevalence(text: str) -> dict[str, float]:
    """``"AF=0.2,PVC=0.1"`` -> ``{"AF": 0.2, "PVC": 0.1}`` (raises ``UsageError``, a ValueError, naming the bad part)."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        try:
            if not sep:
                raise UsageError
            out[name.strip()] = float(value)
        except ValueError:
            raise UsageError(f"prevalence {part!r}: expected CLASS=PROBABILITY, e.g. AF=0.2") from None
    return out


def make_consistent(rhythm: str, found: list[str]) -> list[str]:
    """Apply :data:`EXCLUSIVE_GROUPS`, :data:`IMPLIES` and :data:`NOT_WITH_RHYTHM` to drawn findings."""
    found = [f for f in found if f not in NOT_WITH_RHYTHM.get(rhythm, ())]
    for group in EXCLUSIVE_GROUPS:
        present = [f for f in found if f in group]
        found = [f for f in found if f not in present[1:]]
    for cause, effect in IMPLIES.items():
        if cause in found and effect not in found:
            found.append(effect)
    order = {name: k for k, name in enumerate(FINDING_PREVALENCE)}
    return sorted(found, key=order.__getitem__)


def sample_labels(rng: np.random.Generator, prevalence: Mapping[str, float] | None = None) -> list[str]:
    """One multi-label diagnosis: a rhythm followed by findings, e.g. ``["NSR", "RBBB", "LAD"]``.

    ``prevalence``: every class's probability (default :func:`default_prevalence`; see
    :func:`resolve_prevalence` to build one from a few overrides).
    """
    prev = default_prevalence() if prevalence is None else prevalence
    p_rhythm = np.array([prev[r] for r in RHYTHMS], dtype=float)
    rhythm = RHYTHMS[int(rng.choice(len(RHYTHMS), p=p_rhythm / p_rhythm.sum()))]
    draws = rng.random(len(FINDING_PREVALENCE))
    found = [name for name, u in zip(FINDING_PREVALENCE, draws, strict=True) if u < prev[name]]
    return [rhythm, *make_consistent(rhythm, found)]


def validate_labels(labels: list[str]) -> None:
    """Raise ``ValueError`` when ``labels`` is not a generator-consistent combination."""
    unknown = [x for x in labels if x not in CLASSES]
    if unknown:
        raise ValueError(f"unknown synthetic classes {unknown}; choose from {list(CLASSES)}")
    rhythms = [x for x in labels if x in RHYTHMS]
    if len(rhythms) != 1:
        raise ValueError(f"labels {labels} must contain exactly one rhythm of {list(RHYTHMS)}")
    for group in EXCLUSIVE_GROUPS:
        both = [x for x in labels if x in group]
        if len(both) > 1:
            raise ValueError(f"labels {labels}: {' and '.join(both)} exclude each other")
    for cause, effect in IMPLIES.items():
        if cause in labels and effect not in labels:
            raise ValueError(f"labels {labels}: {cause} implies {effect}")
    bad = [x for x in labels if x in NOT_WITH_RHYTHM.get(rhythms[0], ())]
    if bad:
        raise ValueError(f"labels {labels}: {rhythms[0]} cannot have {bad}")
