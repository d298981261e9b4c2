"""Fetch one URL to a verified local file, resuming interrupted transfers.

HTTP(S) downloads go to ``<file>.part``; a later attempt (in this call or the next run) asks the
server for the remaining bytes with a Range header, and with ``If-Range`` carrying the ETag or
Last-Modified date of the response that began the file (kept in ``<file>.part.validator``), so a
file that changed on the server is sent whole rather than spliced onto old bytes. The file gets
its final name only after its size and SHA-256 check out, and a ``<file>.sha256`` note beside it
lets the next run skip both the transfer and the re-hash.

This module is the one layer that retries a download (callers, Prefect tasks included, must not
retry it again), and it retries only what a later attempt can fix: timeouts, a connection dropped
or reset mid-transfer, HTTP 5xx, 408 and 429 (waiting as ``Retry-After`` asks, within the
policy's cap). A failure that would repeat itself is final at once and raises
:class:`DownloadError`: a host name that does not resolve (offline, or a wrong name), a refused
connection, an unreachable network, a certificate that does not verify, any other HTTP 4xx.

pooch is not used here: ``pooch.retrieve`` downloads every attempt into a fresh temporary file
(so a partial transfer cannot be resumed) and re-reads the whole file to hash it, which on the
33 GB Vimeo90K archive costs minutes that hashing while streaming avoids.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests
import urllib3
from tqdm import tqdm

import vosvfi_core
from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.atomic import atomic_path

__all__ = ["DownloadError", "FetchedFile", "RetryPolicy", "copy_fetched", "fetch", "file_sha256", "remove_fetched"]

_CHUNK = 1 << 20
_RETRYABLE_STATUS = {408, 429}
_NETWORK_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries after a failed attempt; the wait doubles from ``backoff`` up to ``max_backoff`` seconds.

    An attempt that received bytes resets the count, so a long transfer over a flaky line goes on
    as long as it makes progress.
    """

    retries: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    timeout: float = 60.0  # seconds without a byte from the server
    connect_timeout: float = 15.0  # seconds to open the connection


class DownloadError(VosvfiError):
    """A download that could not be completed: the URL, why, and whether retries were spent on it.

    ``final`` is True when the failure would repeat on retry and no retry was made (offline, a
    refused connection, HTTP 4xx); False when transient failures used up the retries.
    """

    def __init__(self, message: str, *, url: str, reason: str, final: bool) -> None:
        super().__init__(message)
        self.url = url
        self.reason = reason
        self.final = final


@dataclass(frozen=True)
class FetchedFile:
    path: Path
    size: int
    sha256: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _note_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _read_note(target: Path) -> tuple[int, str] | None:
    try:
        note = json.loads(_note_path(target).read_text(encoding="utf-8"))
        return int(note["size"]), str(note["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_note(target: Path, size: int, sha256: str, url: str) -> None:
    with atomic_path(_note_path(target)) as tmp:
        tmp.write_text(json.dumps({"size": size, "sha256": sha256, "url": url}) + "\n", encoding="utf-8")


def _verified(target: Path, size: int, sha256: str, expected_sha256: str | None, expected_size: int | None, url: str, label: str) -> FetchedFile:
    if expected_size is not None and size != expected_size:
        target.unlink(missing_ok=True)
        raise VosvfiError(f"{label}: size mismatch for {url}: expected {expected_size} bytes, got {size}; the download was deleted")
    if expected_sha256 is not None and sha256 != expected_sha256:
        target.unlink(missing_ok=True)
        raise VosvfiError(
            f"{label}: checksum mismatch for {url}: expected sha256 {expected_sha256}, got {sha256}; the download was deleted and nothing was marked complete"
        )
    return FetchedFile(target, size, sha256)


def _chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives. ``read1`` hands over every byte received before a dropped
    connection; ``iter_content`` would lose the last partly filled chunk (up to ``_CHUNK`` bytes)."""
    read1 = getattr(response.raw, "read1", None)
    if read1 is None:
        yield from response.iter_content(_CHUNK)
        return
    while chunk := read1(_CHUNK):
        yield chunk


def _validator_path(part: Path) -> Path:
    return part.with_name(part.name + ".validator")


class _Transfer:
    """The state of one ``.part`` file: its length and the SHA-256 of the bytes in it."""

    def __init__(self, part: Path, *, resume: bool) -> None:
        self.part = part
        self.validator_path = _validator_path(part)
        if resume and part.exists():
            self._rehash()
        else:
            self.restart()

    def _rehash(self) -> None:
        self.digest = hashlib.sha256()
        self.length = 0
        with self.part.open("rb") as handle:
            for block in iter(lambda: handle.read(_CHUNK), b""):
                self.digest.update(block)
                self.length += len(block)

    def restart(self) -> None:
        self.part.write_bytes(b"")
        self.validator_path.unlink(missing_ok=True)
        self.digest = hashlib.sha256()
        self.length = 0

    def validator(self) -> str | None:
        """What ``If-Range`` should carry: the validator of the response that began the file."""
        if not self.validator_path.is_file():
            return None
        return self.validator_path.read_text().strip() or None

    def remember_validator(self, headers: Mapping[str, str]) -> None:
        """Keep a strong ETag, else Last-Modified, of a response that starts the file from byte 0."""
        etag = headers.get("ETag")
        value = etag if etag and not etag.startswith("W/") else headers.get("Last-Modified")
        if value:
            self.validator_path.write_text(value)
        else:
            self.validator_path.unlink(missing_ok=True)

    def sync(self) -> None:
        if self.part.stat().st_size != self.length:
            self._rehash()

    def write(self, response: requests.Response, bar: tqdm) -> int:
        received = 0
        with self.part.open("ab") as handle:
            for chunk in _chunks(response):
                handle.write(chunk)
                self.digest.update(chunk)
                self.length += len(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        return received


def _total_from_content_range(header: str | None) -> tuple[int | None, int | None]:
    """``(first byte, total size)`` from ``bytes a-b/N`` or ``bytes */N``."""
    match = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", header or "")
    if not match:
        return None, None
    first = int(match.group(1)) if match.group(1) is not None else None
    total = int(match.group(2)) if match.group(2) != "*" else None
    return first, total


class _Retries:
    def __init__(self, policy: RetryPolicy, url: str, label: str) -> None:
        self.policy = policy
        self.url = url
        self.label = label
        self.failures = 0

    def failed(self, reason: str, *, made_progress: bool = False, wait: float | None = None) -> None:
        """Wait before the next attempt (``wait`` seconds when the server asked), or raise once the retries are spent."""
        if made_progress:
            self.failures = 0
        self.failures += 1
        if self.failures > self.policy.retries:
            raise DownloadError(
                f"{self.label}: download failed after {self.policy.retries} retries: {reason} ({self.url})", url=self.url, reason=reason, final=False
            )
        backoff = self.policy.backoff * 2 ** (self.failures - 1) if wait is None else wait
        time.sleep(min(self.policy.max_backoff, backoff))

    def final(self, reason: str) -> DownloadError:
        """The error for a failure that a retry would only repeat."""
        return DownloadError(f"{self.label}: download failed: {reason} ({self.url})", url=self.url, reason=reason, final=True)


def _describe(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"[:200]


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and what it wraps: requests wraps urllib3, which wraps the socket's ``OSError``."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, getattr(current, "reason", None), *current.args]
        pending += [item for item in linked if isinstance(item, BaseException)]


_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH}


def _final_reason(error: BaseException, url: str) -> str | None:
    """Why a retry of ``error`` would fail the same way, or None where it may be transient."""
    parts = urlsplit(url)
    host = parts.hostname or url
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for cause in _causes(error):
        if isinstance(cause, socket.gaierror):
            return f"cannot resolve host {host!r} (offline, or a wrong host name: {cause.strerror or cause})"
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused by {host}:{port} (no server listens there)"
        if isinstance(cause, OSError) and cause.errno in _UNREACHABLE:
            return f"no route to {host} ({os.strerror(cause.errno)}: offline?)"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"the TLS certificate of {host} does not verify ({cause.verify_message or cause})"
        if isinstance(cause, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema, requests.exceptions.TooManyRedirects)):
            return _describe(cause)
    return None


def _retry_after(response: requests.Response) -> float | None:
    """The wait a 429 or 503 answer asks for in seconds (``Retry-After: <seconds>``), if any."""
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def _fetch_http(url: str, part: Path, *, expected_size: int | None, policy: RetryPolicy, progress: bool, label: str, session: requests.Session) -> _Transfer:
    transfer = _Transfer(part, resume=True)
    retries = _Retries(policy, url, label)
    # disable=None: tqdm draws the bar only when stderr is a terminal, and stays quiet when piped or logged.
    bar = tqdm(
        total=expected_size, initial=transfer.length, unit="B", unit_scale=True, unit_divisor=1024, desc=label, disable=None if progress else True, leave=False
    )
    try:
        while True:
            transfer.sync()
            offset = transfer.length
            headers = {"Accept-Encoding": "identity"}
            if offset:
                headers["Range"] = f"bytes={offset}-"
                validator = transfer.validator()
                if validator:
                    headers["If-Range"] = validator
            try:
                response = session.get(url, headers=headers, stream=True, timeout=(policy.connect_timeout, policy.timeout))
            except _NETWORK_ERRORS as error:
                final = _final_reason(error, url)
                if final is not None:
                    raise retries.final(final) from error
                retries.failed(_describe(error))
                continue
            with response:
                status = response.status_code
                if status == 416 and offset:
                    _, total = _total_from_content_range(response.headers.get("Content-Range"))
                    if total == offset:
                        return transfer  # the previous attempt had already received every byte
                    transfer.restart()
                    bar.reset(total=expected_size)
                    retries.failed(f"HTTP 416 for a resume at byte {offset}")
                    continue
                if status >= 500 or status in _RETRYABLE_STATUS:
                    retries.failed(f"HTTP {status} {response.reason}", wait=_retry_after(response))
                    continue
                if status not in (200, 206):
                    raise retries.final(f"HTTP {status} {response.reason}")
                if status == 206:
                    first, total = _total_from_content_range(response.headers.get("Content-Range"))
                    if first != offset:
                        transfer.restart()
                        bar.reset(total=expected_size)
                        retries.failed(f"the server answered a resume at byte {offset} with bytes from {first}")
                        continue
                else:
                    if offset:  # the server ignores Range, or the file changed (If-Range): start over
                        transfer.restart()
                        bar.reset(total=expected_size)
                    transfer.remember_validator(response.headers)
                    length = response.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                if total is not None and expected_size is not None and total != expected_size:
                    part.unlink(missing_ok=True)
                    raise VosvfiError(f"{label}: the server offers {total} bytes but the catalog expects {expected_size} bytes ({url})")
                if total is not None and bar.total != total:
                    bar.total = total
                    bar.refresh()
                before = transfer.length
                try:
                    transfer.write(response, bar)
                except _NETWORK_ERRORS as error:
                    retries.failed(_describe(error), made_progress=transfer.length > before)
                    continue
                if total is not None and transfer.length < total:
                    retries.failed(f"connection closed at byte {transfer.length} of {total}", made_progress=transfer.length > before)
                    continue
                return transfer
    finally:
        bar.close()


def _fetch_local(url: str, part: Path, *, progress: bool, label: str) -> _Transfer:
    source = Path(unquote(urlsplit(url).path))
    if not source.is_file():
        raise DownloadError(f"{label}: file not found: {source} ({url})", url=url, reason=f"file not found: {source}", final=True)
    transfer = _Transfer(part, resume=False)
    with (
        source.open("rb") as src,
        part.open("ab") as dst,
        tqdm(total=source.stat().st_size, unit="B", unit_scale=True, unit_divisor=1024, desc=label, disable=None if progress else True, leave=False) as bar,
    ):
        for block in iter(lambda: src.read(_CHUNK), b""):
            dst.write(block)
            transfer.digest.update(block)
            transfer.length += len(block)
            bar.update(len(block))
    return transfer


def fetch(
    url: str,
    target: Path,
    *,
    expected_sha256: str | None = None,
    expected_size: int | None = None,
    policy: RetryPolicy | None = None,
    progress: bool = True,
    label: str | None = None,
    session: requests.Session | None = None,
) -> FetchedFile:
    """Make ``target`` hold the verified bytes of ``url`` (``http``, ``https`` or ``file``)."""
    target = Path(target)
    label = label or target.name
    policy = policy or RetryPolicy()
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file():
        note = _read_note(target)
        size = target.stat().st_size
        if note is None or note[0] != size:
            note = (size, file_sha256(target))
        if (expected_sha256 is None or note[1] == expected_sha256) and (expected_size is None or size == expected_size):
            _write_note(target, size, note[1], url)
            return FetchedFile(target, size, note[1])
        target.unlink()  # not the file the catalog expects: fetch it again
    _note_path(target).unlink(missing_ok=True)
    part = target.with_name(target.name + ".part")
    scheme = urlsplit(url).scheme
    if scheme == "file":
        transfer = _fetch_local(url, part, progress=progress, label=label)
    elif scheme in ("http", "https"):
        own_session = session is None
        session = session or requests.Session()
        session.headers.setdefault("User-Agent", f"vosvfi/{vosvfi_core.__version__}")
        try:
            transfer = _fetch_http(url, part, expected_size=expected_size, policy=policy, progress=progress, label=label, session=session)
        finally:
            if own_session:
                session.close()
    else:
        raise VosvfiError(f"{label}: unsupported URL scheme {scheme!r} in {url}")
    size, sha256 = transfer.length, transfer.digest.hexdigest()
    _validator_path(part).unlink(missing_ok=True)  # the transfer is whole: nothing left to resume
    verified = _verified(part, size, sha256, expected_sha256, expected_size, url, label)
    os.replace(verified.path, target)
    _write_note(target, size, sha256, url)
    return FetchedFile(target, size, sha256)


def remove_fetched(target: Path) -> None:
    """Delete a fetched file with its note and any partial transfer."""
    part = target.with_name(target.name + ".part")
    for path in (target, _note_path(target), part, _validator_path(part)):
        path.unlink(missing_ok=True)


def copy_fetched(target: Path, destination: Path) -> None:
    """Copy a fetched plain file into the data set's tree, atomically."""
    with atomic_path(destination) as tmp:
        shutil.copyfile(target, tmp)
