"""The one overwrite rule of every command that writes: refuse an existing output unless ``--overwrite``.

Commands call :func:`check_output` for each output while checking their arguments, before any
model loads, so a refused output costs nothing. The write itself still goes through a temporary
name that is renamed into place (``vosvfi_core.io.atomic``), so ``--overwrite`` replaces the old
output only once the new one is complete.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from vosvfi_core.errors import VosvfiError

__all__ = ["check_output", "add_overwrite_flag", "output_taken"]


def output_taken(path: Path) -> bool:
    """True when writing ``path`` would replace something: a file, a link, or a folder with entries."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        return True
    return path.is_dir() and any(path.iterdir())


def check_output(path: Path, *, overwrite: bool, what: str = "output") -> None:
    """Raise one line unless ``path`` may be written: free (or ``overwrite``) in a writable, existing folder.

    An empty folder counts as free. ``what`` names the output in the message (``output``,
    ``output folder``, ``results table`` …).
    """
    path = Path(path)
    if output_taken(path) and not overwrite:
        raise VosvfiError(f"{what} {path} exists; pass --overwrite to replace it")
    parent = path.absolute().parent
    if not parent.exists():
        raise VosvfiError(f"{what} {path}: folder {parent} does not exist (create it first)")
    if not parent.is_dir():
        raise VosvfiError(f"{what} {path}: {parent} is not a folder")
    # The temporary file and the rename both need write and search permission on the folder.
    if not os.access(parent, os.W_OK | os.X_OK):
        raise VosvfiError(f"{what} {path}: folder {parent} is not writable")


def add_overwrite_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--overwrite`` (off by default) with the same help text in every command."""
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output (default: refuse it)")
