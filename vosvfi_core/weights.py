"""Pretrained weight files as data: where each comes from, its hash, and where it is looked for.

A :class:`WeightsEntry` names one file (torchvision's pattern: weights are data, not code).
:func:`resolve_weights` finds it, in this order: an explicit path, the file in
:func:`weights_dir`, a download from the entry's URL into that folder (through the resumable,
atomic downloader of ``vosvfi_core.io.fetch``). When none works it raises one line saying which
file to place where. :func:`load_state_dict` reads a file with ``torch.load(weights_only=True)``.

A host that does not resolve, or refuses the connection, fails the download at once: retrying
cannot help there, and an offline machine should hear so in a second, not after minutes of backoff.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.fetch import RetryPolicy, fetch, file_sha256, remove_fetched

__all__ = ["WEIGHTS_DIR_ENV", "WeightsEntry", "load_state_dict", "resolve_weights", "weights_dir"]

WEIGHTS_DIR_ENV = "VOSVFI_WEIGHTS_DIR"
# Retries for connection drops, timeouts and 5xx answers; unreachable hosts are never retried.
DOWNLOAD_POLICY = RetryPolicy(retries=3)
# torchvision publishes only the first 8 hex digits of a file's SHA-256 (in its name); accept a prefix that long.
_MIN_SHA256_PREFIX = 8


@dataclass(frozen=True)
class WeightsEntry:
    """One weights file.

    ``sha256`` is the file's hex SHA-256, or a prefix of it of at least 8 digits (what torchvision
    publishes), or None when no hash is published. ``url`` is where to download it (None: nowhere
    known; the file must be placed by hand).
    """

    name: str
    file_name: str
    sha256: str | None
    url: str | None
    description: str

    def __post_init__(self) -> None:
        if self.sha256 is not None and not re.fullmatch(f"[0-9a-f]{{{_MIN_SHA256_PREFIX},64}}", self.sha256):
            raise ValueError(f"{self.name} weights: sha256 must be 8 to 64 lower-case hex digits, got {self.sha256!r}")
        if Path(self.file_name).name != self.file_name:
            raise ValueError(f"{self.name} weights: file_name must be a bare file name, got {self.file_name!r}")


def weights_dir() -> Path:
    """``$VOSVFI_WEIGHTS_DIR``, else ``~/.cache/vosvfi/weights``."""
    configured = os.environ.get(WEIGHTS_DIR_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "vosvfi" / "weights"


def _hash_matches(entry: WeightsEntry, digest: str) -> bool:
    return entry.sha256 is None or digest.startswith(entry.sha256)


def _check_hash(entry: WeightsEntry, path: Path) -> None:
    if entry.sha256 is None:
        return
    digest = file_sha256(path)
    if not _hash_matches(entry, digest):
        raise VosvfiError(f"{entry.name} weights: {path} has sha256 {digest}, expected {entry.sha256}…; it is not the published file")


def _looks_like_a_web_page(path: Path) -> bool:
    """Google Drive and OneDrive answer some direct links with an HTML page instead of the file."""
    with path.open("rb") as handle:
        head = handle.read(512).lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _short_reason(message: str, entry: WeightsEntry) -> str:
    """The downloader's message without what the weights error says anyway (the label, the URL)."""
    message = message.removeprefix(f"{entry.name} weights: ").removeprefix("download failed: ")
    return message.replace(f" for {entry.url}", "").replace(f" ({entry.url})", "")


def _download(entry: WeightsEntry, target: Path) -> None:
    """Fetch ``entry.url`` to ``target``; raises VosvfiError with a short reason."""
    assert entry.url is not None
    full_hash = entry.sha256 if entry.sha256 is not None and len(entry.sha256) == 64 else None
    # fetch fails at once where retrying cannot help (no such host, connection refused).
    try:
        fetched = fetch(entry.url, target, expected_sha256=full_hash, policy=DOWNLOAD_POLICY, progress=sys.stderr.isatty(), label=f"{entry.name} weights")
    except VosvfiError as error:
        raise VosvfiError(_short_reason(str(error), entry)) from None
    if _looks_like_a_web_page(fetched.path):
        remove_fetched(fetched.path)
        raise VosvfiError("the server sent a web page, not the file (a confirmation page?); download it in a browser")
    if not _hash_matches(entry, fetched.sha256):
        remove_fetched(fetched.path)
        raise VosvfiError(f"the download has sha256 {fetched.sha256}, expected {entry.sha256}…; it was deleted")


def resolve_weights(entry: WeightsEntry, path: Path | str | None = None, *, download: bool = True, config_field: str = "weights") -> Path:
    """The local file of ``entry``: ``path`` if given, else the file in :func:`weights_dir`, else a download.

    An explicit ``path`` must exist (and match the entry's hash, when it has one); it is never
    replaced by a download. ``config_field`` names the setting that takes a path, for the error.
    """
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise VosvfiError(f"{config_field}: {entry.name} weights not found: {path}")
        _check_hash(entry, path)
        return path
    target = weights_dir() / entry.file_name
    if target.is_file():
        _check_hash(entry, target)
        return target
    if entry.url is None:
        reason = "no download source is known"
    elif not download:
        reason = "downloads are turned off"
    else:
        try:
            _download(entry, target)
            return target
        except VosvfiError as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    source = f"download from {entry.url} failed: {reason}" if entry.url else reason
    digest = f"sha256 {entry.sha256}" if entry.sha256 else "sha256 not published"
    raise VosvfiError(f"{entry.name} weights: no file; place {entry.file_name} ({digest}) at {target} or pass its path in {config_field}; {source}")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:160]


def load_state_dict(path: Path | str) -> dict[str, torch.Tensor]:
    """The tensors of a weights file: a plain state dict, or one under ``'state_dict'`` or ``'model'``.

    Loaded on the CPU with ``weights_only=True`` (no arbitrary code runs); any file that does not
    unpickle to a state dict is a one-line error naming the file.
    """
    path = Path(path)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # arbitrary bytes fail in many ways inside the unpickler
        raise VosvfiError(f"{path} is not a loadable weights file ({_first_line(error)})") from None
    if isinstance(loaded, dict):
        for wrapper in ("state_dict", "model"):
            if isinstance(loaded.get(wrapper), dict):
                loaded = loaded[wrapper]
                break
    if not isinstance(loaded, dict) or not loaded or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in loaded.items()):
        raise VosvfiError(f"{path} does not hold a state dict (a mapping of names to tensors, plain or under 'state_dict' or 'model')")
    return dict(loaded)
