"""A real HTTP server on 127.0.0.1 for download tests: Range requests, cut transfers, stalls, error statuses."""

from __future__ import annotations

import hashlib
import re
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that hang up early (a size check, a test's cut) are expected; anything else is not.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FileServer:
    """Serves in-memory files; tests tell it to cut the next responses short, stall, fail, or ignore Range.

    ``log`` records ``(method, path, Range header)`` for every request, so tests can count them.
    Every file has a strong ETag (from its content), and ``If-Range`` is honoured as RFC 9110 says:
    a Range request whose validator no longer matches gets the whole file with 200.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.statuses: dict[str, int] = {}
        self.cuts: dict[str, list[int]] = defaultdict(list)
        self.failures: dict[str, list[tuple[int, dict[str, str]]]] = defaultdict(list)
        self.stalls: dict[str, list[float]] = defaultdict(list)
        self.ignore_range: set[str] = set()
        self.log: list[tuple[str, str, str | None]] = []
        self.if_range_log: list[str | None] = []
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def add(self, path: str, data: bytes | Path) -> str:
        """Serve ``data`` at ``path``; returns its URL."""
        self.files[path] = data.read_bytes() if isinstance(data, Path) else data
        return self.url(path)

    def url(self, path: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def cut_next(self, path: str, after: int) -> None:
        """The next response for ``path`` sends only ``after`` bytes of its body, then drops the connection."""
        self.cuts[path].append(after)

    def fail_next(self, path: str, status: int, times: int = 1, headers: dict[str, str] | None = None) -> None:
        """The next ``times`` requests for ``path`` get ``status`` with ``headers`` (then it serves normally)."""
        self.failures[path] += [(status, headers or {})] * times

    def stall_next(self, path: str, seconds: float) -> None:
        """The next response for ``path`` sends its headers, then waits ``seconds`` before the body."""
        self.stalls[path].append(seconds)

    def requests_for(self, path: str) -> list[tuple[str, str, str | None]]:
        return [entry for entry in self.log if entry[1] == path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _empty(self, status: int, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                range_header = self.headers.get("Range")
                with server._lock:
                    server.log.append(("GET", path, range_header))
                    status, status_headers = server.failures[path].pop(0) if server.failures[path] else (server.statuses.get(path), {})
                    data = server.files.get(path)
                    cut = server.cuts[path].pop(0) if server.cuts[path] else None
                    stall = server.stalls[path].pop(0) if server.stalls[path] else None
                    server.if_range_log.append(self.headers.get("If-Range"))
                if status is not None:
                    self._empty(status, status_headers)
                    return
                if data is None:
                    self._empty(404)
                    return
                start, end, code = 0, len(data) - 1, 200
                etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
                match = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header or "")
                if_range = self.headers.get("If-Range")
                if match and path not in server.ignore_range and if_range in (None, etag):
                    start = int(match.group(1))
                    if start >= len(data):
                        self._empty(416, {"Content-Range": f"bytes */{len(data)}"})
                        return
                    end = min(int(match.group(2)), len(data) - 1) if match.group(2) else len(data) - 1
                    code = 206
                body = data[start : end + 1]
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("ETag", etag)
                if code == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                if cut is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                if stall is not None:
                    self.wfile.flush()
                    time.sleep(stall)
                if cut is not None:
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        return Handler
