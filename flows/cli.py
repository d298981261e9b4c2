"""The ``vosvfi`` command: library commands plus the pipeline commands, with one-line errors."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from vosvfi_core import __version__
from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.signals import Terminated, sigterm_as_interrupt

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse's usage errors, in the same one-line form as ours."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from flows import pipeline_commands
    from vosvfi_core.commands import compare as compare_commands
    from vosvfi_core.commands import data as data_commands
    from vosvfi_core.commands import export as export_commands
    from vosvfi_core.commands import interpolate as interpolate_commands
    from vosvfi_core.commands import masks as masks_commands
    from vosvfi_core.commands import train as train_commands

    parser = _Parser(prog="vosvfi", description="VOS-aware video frame interpolation: interpolate, data, pipeline.")
    parser.add_argument("--version", action="version", version=f"vosvfi {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks (and, for pipeline runs, Prefect's log) on the terminal")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    interpolate_commands.register(subparsers)
    export_commands.register(subparsers)
    data_commands.register(subparsers)
    compare_commands.register(subparsers)
    masks_commands.register(subparsers)
    train_commands.register(subparsers)
    pipeline_commands.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        # SIGTERM (kill, timeout, a container stop) takes Ctrl-C's path: partial outputs are removed.
        with sigterm_as_interrupt():
            return int(args.handler(args) or 0)
    except VosvfiError as error:
        print(f"vosvfi: error: {error}", file=sys.stderr)
        return 2
    except Terminated:
        print("vosvfi: terminated", file=sys.stderr)
        return Terminated.exit_code
    except KeyboardInterrupt:
        print("vosvfi: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`vosvfi data list | head`): end quietly, without flushing into the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # a bug, not bad input: one line here, the traceback behind --debug
        if getattr(args, "debug", False):
            raise
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        print(f"vosvfi: error: unexpected {type(error).__name__}: {reason} (run again with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
