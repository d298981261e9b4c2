"""SIGTERM handled like Ctrl-C: raised in the main thread as a KeyboardInterrupt, so the same cleanup runs.

``kill``, ``timeout``, container stops and schedulers send SIGTERM, whose default action ends the
process at once and leaves half-written outputs behind. Every command already removes its partial
outputs on KeyboardInterrupt (worker threads are stopped by the main thread's cleanup), so the
command line turns SIGTERM into :class:`Terminated`, a KeyboardInterrupt, for as long as a command
runs. Only the first SIGTERM raises: later ones would interrupt the cleanup it started, so they
are ignored (SIGKILL still ends the process).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["Terminated", "sigterm_as_interrupt"]


class Terminated(KeyboardInterrupt):
    """A SIGTERM received while a command ran; ``exit_code`` is the shell's 128 + 15."""

    exit_code = 128 + signal.SIGTERM


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, the first SIGTERM raises :class:`Terminated` in the main thread; the previous handler returns after.

    Outside the main thread (where Python cannot set handlers) this changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal received
        if received:
            return
        received = True
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
