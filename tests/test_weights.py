"""Weights entries: an explicit path, the weights folder, a download from a real local server, and the one-line errors."""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path

import pytest
import torch
from http_server import FileServer

import vosvfi_core.io.fetch as fetch_module
import vosvfi_core.weights as weights_module
from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.fetch import RetryPolicy
from vosvfi_core.weights import WeightsEntry, load_state_dict, resolve_weights, weights_dir

PAYLOAD = bytes(range(256)) * 40


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _entry(url: str | None, sha256: str | None = None) -> WeightsEntry:
    return WeightsEntry(name="Toy", file_name="toy.pth", sha256=sha256, url=url, description="a test file")


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    target = tmp_path / "weights"
    monkeypatch.setenv("VOSVFI_WEIGHTS_DIR", str(target))
    monkeypatch.setattr(weights_module, "DOWNLOAD_POLICY", RetryPolicy(retries=2, backoff=0.001, max_backoff=0.01, timeout=10))
    return target


@pytest.fixture
def server():
    with FileServer() as running:
        yield running


@pytest.fixture
def no_retry_sleeps(monkeypatch):
    """Fails the test if the downloader ever waits to retry."""

    def refuse(seconds: float) -> None:
        raise AssertionError(f"the downloader slept {seconds} s to retry an unreachable host")

    monkeypatch.setattr(fetch_module.time, "sleep", refuse)


def test_feature_weights_dir_from_environment_or_home(monkeypatch, tmp_path):
    monkeypatch.setenv("VOSVFI_WEIGHTS_DIR", str(tmp_path / "w"))
    assert weights_dir() == tmp_path / "w"
    monkeypatch.delenv("VOSVFI_WEIGHTS_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert weights_dir() == tmp_path / ".cache" / "vosvfi" / "weights"


def test_exception_entry_refuses_a_malformed_hash_or_a_path_as_file_name():
    with pytest.raises(ValueError, match="sha256"):
        WeightsEntry("Toy", "toy.pth", "ABC", None, "")
    with pytest.raises(ValueError, match="file_name"):
        WeightsEntry("Toy", "sub/toy.pth", None, None, "")


def test_feature_explicit_path_is_used_and_checked_against_full_hash_and_prefix(folder, tmp_path, server):
    path = tmp_path / "mine.pth"
    path.write_bytes(PAYLOAD)
    url = server.add("/toy.pth", b"other bytes")
    for sha256 in (None, _sha(PAYLOAD), _sha(PAYLOAD)[:8]):
        assert resolve_weights(_entry(url, sha256), path) == path
    assert server.log == []  # an explicit path never triggers a download
    with pytest.raises(VosvfiError, match=f"{path}.*sha256 {_sha(PAYLOAD)}, expected {_sha(b'x')}") as error:
        resolve_weights(_entry(url, _sha(b"x")), path)
    assert "\n" not in str(error.value)


def test_exception_explicit_path_missing_names_the_path_and_field(folder, tmp_path):
    missing = tmp_path / "absent.pth"
    with pytest.raises(VosvfiError, match=f"^train.teacher.weights: Toy weights not found: {missing}$"):
        resolve_weights(_entry(None), missing, config_field="train.teacher.weights")


def test_feature_file_in_weights_dir_is_found_without_download(folder, server):
    folder.mkdir(parents=True)
    (folder / "toy.pth").write_bytes(PAYLOAD)
    url = server.add("/toy.pth", b"other bytes")
    assert resolve_weights(_entry(url, _sha(PAYLOAD))) == folder / "toy.pth"
    assert server.log == []


def test_feature_download_lands_in_weights_dir_once_and_resumes_a_cut_transfer(folder, server):
    url = server.add("/toy.pth", PAYLOAD)
    server.cut_next("/toy.pth", 1000)
    path = resolve_weights(_entry(url, _sha(PAYLOAD)))
    assert path == folder / "toy.pth"
    assert path.read_bytes() == PAYLOAD
    assert [entry[2] for entry in server.requests_for("/toy.pth")] == [None, "bytes=1000-"]  # resumed, not restarted
    assert not list(folder.glob("*.part*"))
    assert resolve_weights(_entry(url, _sha(PAYLOAD))) == path
    assert len(server.requests_for("/toy.pth")) == 2  # the second call found the file


@pytest.mark.parametrize("url", ["http://nonexistent.invalid/toy.pth", "refused"])
def test_exception_unreachable_host_fails_at_once_with_one_line(folder, no_retry_sleeps, url):
    if url == "refused":
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{probe.getsockname()[1]}/toy.pth"
    start = time.monotonic()
    with pytest.raises(VosvfiError) as error:
        resolve_weights(_entry(url, _sha(PAYLOAD)), config_field="train.teacher.weights")
    elapsed = time.monotonic() - start
    message = str(error.value)
    expected = (
        f"Toy weights: no file; place toy.pth (sha256 {_sha(PAYLOAD)}) at {folder / 'toy.pth'} or pass its path in train.teacher.weights; "
        f"download from {url} failed: "
    )
    assert message.startswith(expected), message
    assert ("cannot resolve host" in message) if "invalid" in url else ("refused" in message)
    assert "\n" not in message
    assert elapsed < 5, f"took {elapsed:.1f} s"
    assert not (folder / "toy.pth").exists()


def test_exception_http_error_and_web_page_and_wrong_hash_leave_no_file(folder, server):
    missing = server.url("/missing.pth")
    with pytest.raises(VosvfiError, match=r"download from .*/missing.pth failed: HTTP 404 Not Found$"):
        resolve_weights(_entry(missing))
    page = server.add("/page.pth", b"<!DOCTYPE html><html><body>Virus scan warning</body></html>")
    with pytest.raises(VosvfiError, match="the server sent a web page"):
        resolve_weights(_entry(page))
    assert not (folder / "toy.pth").exists()
    wrong = server.add("/wrong.pth", b"not the published bytes")
    for expected in (_sha(PAYLOAD), _sha(PAYLOAD)[:8]):  # checked by the downloader, and by us for a prefix
        with pytest.raises(VosvfiError, match="Toy weights: no file; .*(checksum mismatch|expected " + expected[:8] + ")"):
            resolve_weights(_entry(wrong, expected))
        assert not (folder / "toy.pth").exists()


def test_exception_no_source_or_downloads_off_names_the_file_to_place(folder, server):
    with pytest.raises(VosvfiError, match=r"place toy.pth \(sha256 not published\) at .*toy.pth or pass its path in weights; no download source is known$"):
        resolve_weights(_entry(None))
    url = server.add("/toy.pth", PAYLOAD)
    with pytest.raises(VosvfiError, match="downloads are turned off$"):
        resolve_weights(_entry(url), download=False)
    assert server.log == []


@pytest.mark.parametrize("wrapper", [None, "state_dict", "model"])
def test_feature_load_state_dict_accepts_plain_and_wrapped(tmp_path, wrapper):
    state = {"a.weight": torch.randn(2, 3), "a.bias": torch.zeros(2)}
    path = tmp_path / "w.pth"
    torch.save(state if wrapper is None else {wrapper: state, "epoch": 3}, path)
    loaded = load_state_dict(path)
    assert list(loaded) == list(state)
    assert all(torch.equal(loaded[key], state[key]) for key in state)


def test_exception_load_state_dict_on_garbage_or_non_tensors_is_one_line(tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x80\x02}q\x00garbage" * 10)
    with pytest.raises(VosvfiError, match=f"^{garbage} is not a loadable weights file") as error:
        load_state_dict(garbage)
    assert "\n" not in str(error.value)
    not_tensors = tmp_path / "numbers.pth"
    torch.save({"a": 1, "b": [2, 3]}, not_tensors)
    with pytest.raises(VosvfiError, match=f"^{not_tensors} does not hold a state dict"):
        load_state_dict(not_tensors)
