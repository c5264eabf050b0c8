"""argparse value types that refuse impossible values while the command line is parsed.

A value refused here becomes argparse's one-line error (``threekg CMD: error: argument
--workers: ...``, exit 2) before any work starts. Domain rules (a label fraction in (0, 1], at most
999,999 records) stay with the Python API, which raises :mod:`threekg.errors` for its callers too.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def positive_int(text: str) -> int:
    """An integer >= 1 (counts such as ``--workers``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
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


def encoder_arch(text: str) -> dict[str, Any]:
    """An encoder architecture: a registered name (``resnet18-small``) or a JSON object with its options
    (``'{"name": "resnet18-small", "width": 16}'``)."""
    if text.lstrip().startswith("{"):
        return json_object(text)
    from threekg.models import ENCODERS

    if text not in ENCODERS:
        raise argparse.ArgumentTypeError(f"unknown encoder {text!r}; choose from {', '.join(sorted(ENCODERS))} "
                                         "or give a JSON object with its options")
    return {"name": text}
