"""The terminal stays readable: Prefect's log goes to the run's log file, the terminal gets one line per record.

Without ``--debug`` the terminal shows the first line of each INFO/WARNING record and nothing of
errors or tracebacks (the command ends with one ``vosvfi: error:`` line that names the failed
stage and task). Everything, tracebacks included, goes to ``runs/<run_id>/vosvfi.log``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from vosvfi_core.errors import VosvfiError
from vosvfi_core.results.tables import run_dir

__all__ = ["StageFailure", "failure_line", "run_log"]

LOG_FILE = "vosvfi.log"


class StageFailure(Exception):
    """A task of a stage failed; carries where, for the one-line error."""

    def __init__(self, stage: str, task: str, error: BaseException) -> None:
        super().__init__(f"{stage}/{task}: {_reason(error)}")
        self.stage, self.task, self.error = stage, task, error


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    return first if isinstance(error, (VosvfiError, StageFailure)) else f"{type(error).__name__}: {first}".rstrip(": ")


def failure_line(error: BaseException) -> str:
    """``<stage>/<task>: <reason>`` for a failed task, else the error's type and first line."""
    return _reason(error)


class _FirstLines(logging.Handler):
    """Hands a console handler the first line of each record below ERROR, without its traceback."""

    def __init__(self, inner: logging.Handler) -> None:
        super().__init__(inner.level)
        self.inner = inner

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            return
        short = logging.makeLogRecord(record.__dict__)
        short.msg, short.args, short.exc_info, short.exc_text, short.stack_info = (
            record.getMessage().splitlines()[0] if record.getMessage() else "",
            None,
            None,
            None,
            None,
        )
        self.inner.handle(short)


def _console_handlers(logger: logging.Logger) -> list[logging.Handler]:
    return [h for h in logger.handlers if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]


@contextlib.contextmanager
def run_log(run_id: str, *, debug: bool = False) -> Iterator[Path]:
    """Route Prefect's console logging for the duration of a run; yields the log file's path."""
    import prefect.logging.configuration as prefect_logging

    prefect_logging.setup_logging()  # idempotent; the flow call would do it anyway
    path = run_dir(run_id).absolute() / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in list(logging.root.manager.loggerDict) if name.startswith("prefect")]
    swapped: list[tuple[logging.Logger, logging.Handler, logging.Handler]] = []
    for logger in loggers:
        consoles = _console_handlers(logger)
        if consoles or logger is logging.getLogger():
            logger.addHandler(file_handler)
        if not debug:
            for handler in consoles:
                wrapper = _FirstLines(handler)
                logger.removeHandler(handler)
                logger.addHandler(wrapper)
                swapped.append((logger, handler, wrapper))
    try:
        yield path
    finally:
        for logger, handler, wrapper in swapped:
            logger.removeHandler(wrapper)
            logger.addHandler(handler)
        for logger in loggers:
            logger.removeHandler(file_handler)
        file_handler.close()
