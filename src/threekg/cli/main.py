"""`threekg` entry point.

Each sub-command lives in its own module ``threekg.cli.<name>`` exposing

* ``HELP: str`` - the one-line summary shown by ``threekg --help``;
* ``add_arguments(parser: argparse.ArgumentParser) -> None``;
* ``run(args: argparse.Namespace) -> int`` - the exit code;
* optionally ``RESUME: str`` - how to continue after Ctrl-C (default: re-run the same command).

Modules are imported only when their command runs, so ``threekg --help`` stays fast.

The error contract (RELIABILITY.md, "Exit codes and error messages") is enforced here, for every
command alike:

* 0: success.
* 2: an error the user can fix - bad arguments (argparse), a :class:`threekg.errors.UserError`
  raised anywhere below, or an ``OSError`` (missing input, full disk, unwritable output): one line
  ``threekg COMMAND: error: WHAT (HOW TO FIX)`` on stderr, no traceback.
* 130: interrupted (Ctrl-C); one line saying how to resume.
* 1: a bug (any other exception): the traceback, then a line asking to report it.

``--debug`` (anywhere on the command line) or ``THREEKG_DEBUG=1`` prints the traceback of user
errors too.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from threekg import __version__
from threekg.errors import UserError, one_line

# Order shown in --help follows the pipeline: data -> augment -> pretrain -> evaluate -> report.
COMMANDS: tuple[str, ...] = (
    "download",
    "synth",
    "realism",
    "prepare",
    "augment",
    "pretrain",
    "evaluate",
    "embed",
    "export",
    "report",
    "experiment",
    "demo",
)


USER_ERROR, BUG, INTERRUPTED = 2, 1, 130
"""Exit codes besides 0 (see the module docstring)."""

DEBUG_ENV = "THREEKG_DEBUG"
"""Set to 1 to see the traceback of user errors (as ``--debug``)."""


class _Parser(argparse.ArgumentParser):
    """argparse with the contract's one-line error (argparse prints the usage block first)."""

    commands: dict[str, argparse.ArgumentParser]

    def error(self, message: str) -> NoReturn:
        self.exit(USER_ERROR, f"{self.prog}: error: {one_line(message)} (see `{self.prog} --help`)\n")


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"threekg.cli.{name}")


def build_parser(commands: Sequence[str] = COMMANDS, only: str | None = None) -> _Parser:
    """The full parser; with ``only``, sub-command arguments are added for that command alone.

    Some commands list their choices from heavy modules (the pretraining methods import torch), so
    ``main`` builds the arguments of the command being run only: ``threekg --version`` and
    ``threekg prepare`` never import torch.
    """
    parser = _Parser(
        prog="threekg",
        description=(
            "3KG: contrastive self-supervised pretraining of 12-lead ECG encoders with "
            "vectorcardiogram (heart-vector) augmentations. Run `threekg COMMAND --help` for details."
        ),
    )
    parser.add_argument("--version", action="version", version=f"threekg {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--debug", action="store_true",
                        help=f"show the traceback of errors you can fix too (or set {DEBUG_ENV}=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.commands = {}
    for name in commands:
        module = _load(name)
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=(module.__doc__ or module.HELP).strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if only is None or name == only:
            module.add_arguments(p)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of an error, not just its one-line reason")
        p.set_defaults(_module=module)
        parser.commands[name] = p
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv`` (the first word that is one), if any."""
    return next((a for a in argv if a in COMMANDS), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``threekg ARGV``; returns the exit code (see the module docstring for the contract)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_in(argv)
    parser = build_parser(only=command or "")
    args, extra = parser.parse_known_args(argv)
    if extra:  # name the sub-command in the error, as argparse does for its other errors
        parser.commands.get(args.command or "", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        _quiet_libraries()
    if args.command is None:
        parser.print_help()
        return USER_ERROR
    debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    prefix = f"threekg {args.command}"
    try:
        return int(args._module.run(args) or 0)
    except KeyboardInterrupt:
        resume = getattr(args._module, "RESUME", "re-run the same command to resume")
        print(f"{prefix}: interrupted; {resume} (work done so far is kept in {_output_of(args)})",
              file=sys.stderr)
        return INTERRUPTED
    except UserError as exc:
        return _user_error(prefix, str(exc), debug)
    except OSError as exc:
        # Missing inputs, a full disk, unwritable outputs: the environment, not a bug.
        return _user_error(prefix, _os_message(exc, args), debug)
    except Exception:
        traceback.print_exc()
        print(f"{prefix}: internal error: this is a bug in threekg {__version__}, not a problem with your "
              "input; please report it with the command line and the traceback above", file=sys.stderr)
        return BUG


def _user_error(prefix: str, message: str, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    print(f"{prefix}: error: {one_line(message)}", file=sys.stderr)
    return USER_ERROR


_OS_HINTS = {
    errno.ENOSPC: "free some space, then re-run the same command to resume",
    errno.EDQUOT: "free some space, then re-run the same command to resume",
    errno.EACCES: "choose a location you can write to, or fix its permissions",
    errno.EPERM: "choose a location you can write to, or fix its permissions",
    errno.EROFS: "choose a location on a writable file system",
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "a part of the path is a file, not a folder; check the path",
}


def _os_message(exc: OSError, args: argparse.Namespace) -> str:
    """``PATH: reason (hint)`` for an ``OSError``.

    ``write(2)`` failures (ENOSPC) carry no file name: the command's output is named instead.
    An ``OSError`` raised with a message only (``FileExistsError("OUT holds ...")``) is its message.
    """
    if exc.errno is None:
        return str(exc)
    where = exc.filename or f"writing below {_output_of(args)}"
    if exc.filename2:
        where = f"{where} -> {exc.filename2}"
    hint = _OS_HINTS.get(exc.errno)
    return f"{where}: {exc.strerror or exc}" + (f" ({hint})" if hint else "")


def _quiet_libraries() -> None:
    """Lightning's start-up chatter (accelerator lines, tips) and known third-party deprecation
    warnings drown threekg's own progress lines; ``--verbose`` keeps them."""
    import warnings

    # Lightning sets its package loggers to INFO when it is imported (later, lazily); the chatter is
    # logged on the rank_zero child loggers, whose level it leaves alone.
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
                 "pytorch_lightning.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*is deprecated")
    warnings.filterwarnings("ignore", message=r".*The inplace keyword in DataFrame.set_index is deprecated")


def _output_of(args: argparse.Namespace) -> str:
    for name in ("out", "dest", "output"):
        value = getattr(args, name, None)
        if value is not None:
            return str(value)
    return "the output folder"


if __name__ == "__main__":
    sys.exit(main())
