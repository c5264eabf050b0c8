"""`threekg` entry point.

Each sub-command lives in its own module ``threekg.cli.<name>`` exposing

* ``HELP: str`` - the one-line summary shown by ``threekg --help``;
* ``add_arguments(parser: argparse.ArgumentParser) -> None``;
* ``run(args: argparse.Namespace) -> int`` - the exit code.

Modules are imported only when their command runs, so ``threekg --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

from threekg import __version__

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


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"threekg.cli.{name}")


def build_parser(commands: Sequence[str] = COMMANDS, only: str | None = None) -> argparse.ArgumentParser:
    """The full parser; with ``only``, sub-command arguments are added for that command alone.

    Some commands list their choices from heavy modules (the pretraining methods import torch), so
    ``main`` builds the arguments of the command being run only: ``threekg --version`` and
    ``threekg prepare`` never import torch.
    """
    parser = argparse.ArgumentParser(
        prog="threekg",
        description=(
            "3KG: contrastive self-supervised pretraining of 12-lead ECG encoders with "
            "vectorcardiogram (heart-vector) augmentations. Run `threekg COMMAND --help` for details."
        ),
    )
    parser.add_argument("--version", action="version", version=f"threekg {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
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
        p.set_defaults(_module=module)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv`` (the first word that is one), if any."""
    return next((a for a in argv if a in COMMANDS), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_in(argv)
    parser = build_parser(only=command or "")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        _quiet_libraries()
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args._module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; re-run the same command to resume", file=sys.stderr)
        return 130
    except OSError as exc:
        # Disk full, read-only or uncreatable outputs: one line naming the path and the reason.
        # write(2) failures (ENOSPC) carry no file name: name the command's output instead.
        where = exc.filename or f"writing below {_output_of(args)}"
        print(f"error: {where}: {exc.strerror or exc}", file=sys.stderr)
        return 1


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
