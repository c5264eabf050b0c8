"""The standard 12-lead order and lead-name normalisation.

Every array in threekg that has a lead axis uses :data:`LEADS` order, declared here once.
"""

from __future__ import annotations

LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
"""Standard lead order: I, II, III, aVR, aVL, aVF, V1-V6."""

INDEPENDENT_LEADS: tuple[str, ...] = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
"""The eight linearly independent leads, in the column order of the VCG matrices."""

INDEPENDENT_INDEX: tuple[int, ...] = tuple(LEADS.index(name) for name in INDEPENDENT_LEADS)
"""Positions of :data:`INDEPENDENT_LEADS` within :data:`LEADS`: (0, 1, 6, 7, 8, 9, 10, 11)."""

_CANONICAL = {name.upper(): name for name in LEADS}
_ALIASES = {"DI": "I", "DII": "II", "DIII": "III", "MLI": "I", "MLII": "II", "MLIII": "III"}


def normalise_lead_name(name: str) -> str | None:
    """Map a lead name in any case (``avr``, ``AVR``, ``aVR``, ``v1``) to its canonical form.

    Returns ``None`` for names that are not one of the 12 standard leads (e.g. ``vx``).
    """
    key = name.strip().upper()
    key = _ALIASES.get(key, key)
    return _CANONICAL.get(key)
