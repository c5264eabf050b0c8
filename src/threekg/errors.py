"""Errors the user can fix, as opposed to bugs.

Library code raises a :class:`UserError` (or one of its four kinds) when the cause is something
the person running threekg gave it and can change: an argument, a path, a dataset, a
configuration. The command line (``threekg.cli.main``) prints such an error as one line,
``threekg COMMAND: error: WHAT (HOW TO FIX)``, and exits with 2; anything else is treated as a
bug: traceback, a line asking to report it, exit 1. So a new command gets the contract by
raising these classes, and a plain ``ValueError`` from deep inside a library stays visible as
the bug it usually is.

The message says WHAT went wrong and names the input (the path, the option and its value);
``hint`` says HOW TO FIX it and is shown in parentheses after it.

=====================  ==================================================  ===============
class                  raised for                                          also a
=====================  ==================================================  ===============
``UsageError``         an argument or option value the API refuses         ``ValueError``
``InputError``         an input that is missing or cannot be read          -
``DataError``          an input that is readable but unfit for the step    ``ValueError``
``ConfigError``        a configuration that cannot work                    ``ValueError``
``MissingExtraError``  an optional package is not installed                ``ImportError``
=====================  ==================================================  ===============

The ``ValueError`` (``ImportError``) bases keep ``except ValueError`` callers working where these
replaced a plain ``ValueError``. Existing classes fit in: ``threekg.data.RecordError`` and
``threekg.data.DatasetError`` are ``InputError``s; the configuration errors of ``threekg.train``
and ``threekg.experiment`` are ``ConfigError``s; a report's ``MetricsFormatError`` is a
``DataError``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

__all__ = ["ConfigError", "DataError", "InputError", "MissingExtraError", "UsageError", "UserError", "one_line",
           "run_tool"]


class UserError(Exception):
    """An error the user can fix; ``str(err)`` is ``"WHAT (HOW TO FIX)"`` on one line.

    Args:
        *args: the message (WHAT), as for ``Exception``.
        hint: how to fix it, or None when the message already says so.
    """

    hint: str | None = None

    def __init__(self, *args: object, hint: str | None = None) -> None:
        super().__init__(*args)
        if hint is not None:
            self.hint = hint  # kept in __dict__, so it survives pickling across processes

    def __str__(self) -> str:
        text = Exception.__str__(self)  # not KeyError's quoted form, for classes that are also KeyErrors
        return f"{text} ({self.hint})" if self.hint else text


class UsageError(UserError, ValueError):
    """An argument or option value that cannot work (``n must be in 1..999999, got 0``)."""


class InputError(UserError):
    """An input that is missing or cannot be read: a path that does not exist, a damaged file."""


class DataError(UserError, ValueError):
    """An input that is readable but unfit for the step: a dataset without labels, recordings
    shorter than the crop, a labels table with values other than 0 and 1."""


class ConfigError(UserError, ValueError):
    """A configuration (options file, ``--set`` values, study YAML) that cannot work."""


class MissingExtraError(UserError, ImportError):
    """An optional package a feature needs is not installed; the message says which extra to install."""


def one_line(text: str) -> str:
    """``text`` with its line breaks folded into spaces: a message for a one-line error."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def run_tool(main: Callable[[], int]) -> int:
    """Run the ``main`` of a ``python -m threekg...`` developer tool (shape-model build, realism by fold,
    calibration): a missing or unreadable file, a missing column or a bad value ends with one line on
    stderr naming it and exit code 2, not a traceback."""
    try:
        return main()
    except (OSError, ValueError, KeyError) as err:
        if isinstance(err, OSError) and err.filename and err.strerror:
            what = f"{err.filename}: {err.strerror}"
        elif isinstance(err, KeyError):
            what = f"missing column or key {one_line(str(err))[:200]}"
        else:
            what = one_line(str(err))
        print(f"error: {what}", file=sys.stderr)
        return 2
