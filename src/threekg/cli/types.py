"""argparse value types that refuse impossible values while the command line is parsed.

A value refused here becomes argparse's one-line error (``threekg CMD: error: argument --n: ...``,
exit 2) before any work starts. Domain rules (a label fraction in (0, 1], at most 999,999
records) stay with the Python API, which raises :mod:`threekg.errors` for its callers too.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any


def _number(text: str, kind: type[int] | type[float]) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                         f"got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (counts: workers, threads, steps, epochs)."""
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def nonnegative_int(text: str) -> int:
    """An integer >= 0 (seeds, indices, resamples where 0 means none)."""
    value = int(_number(text, int))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (rates in Hz, durations in s, learning rates)."""
    value = float(_number(text, float))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def nonnegative_float(text: str) -> float:
    """A finite number >= 0 (durations where 0 means "off" or "all")."""
    value = float(_number(text, float))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def json_object(text: str) -> dict[str, Any]:
    """A JSON object, e.g. ``'{"name": "resnet18-small"}'``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON ({err.msg} at character {err.pos}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object such as '{{\"name\": \"resnet18\"}}', got {text!r}")
    return value
