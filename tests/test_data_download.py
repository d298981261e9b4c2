"""Downloads against a real HTTP server on 127.0.0.1: resume, retries, checksums, safe extraction, markers."""

from __future__ import annotations

import argparse
import hashlib
import io
import shlex
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
import yaml
from http_server import FileServer

from vosvfi_core.commands import data as data_commands
from vosvfi_core.data.catalog import Catalog, default_catalog_path, load_catalog
from vosvfi_core.data.datasets import OTHER_SEQUENCES, MiddleburyOther
from vosvfi_core.data.download import MARKER_NAME, downloads_dir, ensure_dataset, verify_dataset
from vosvfi_core.data.extract import extract_archive
from vosvfi_core.data.lockfile import read_lock
from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.fetch import DownloadError, RetryPolicy, fetch

FAST = RetryPolicy(retries=3, backoff=0.001, max_backoff=0.01, timeout=10)


@pytest.fixture
def server():
    with FileServer() as running:
        yield running


def _payload(size: int, seed: int = 0) -> bytes:
    blocks = []
    counter = 0
    while sum(map(len, blocks)) < size:
        blocks.append(hashlib.sha256(f"{seed}:{counter}".encode()).digest())
        counter += 1
    return b"".join(blocks)[:size]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _catalog(tmp_path: Path, datasets: dict) -> Catalog:
    path = tmp_path / "catalog" / "data_catalog.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"version": 1, "datasets": datasets}), encoding="utf-8")
    return load_catalog(path)


def _entry(url: str, *, sha256: str | None = None, layout: list | None = None, name: str = "archive") -> dict:
    return {
        "description": "a test data set",
        "license": {"name": "test", "url": "https://example.org/terms"},
        "directory": "toy",
        "sources": [{"name": name, "url": url, "sha256": sha256, "format": "zip"}],
        "layout": layout or [{"path": "toy", "glob": "*.txt", "count": 2}],
    }


TOY = _zip({"toy/a.txt": b"alpha\n", "toy/b.txt": b"beta\n"})


# ---- fetch: resume and retries ---------------------------------------------------------------


def test_feature_interrupted_transfer_resumes_and_verifies(server, tmp_path):
    data = _payload(300_000)
    url = server.add("/big.bin", data)
    server.cut_next("/big.bin", 100_000)
    result = fetch(url, tmp_path / "big.bin", expected_sha256=_sha(data), policy=FAST, progress=False)
    assert (tmp_path / "big.bin").read_bytes() == data
    assert result.sha256 == _sha(data) and result.size == len(data)
    ranges = [entry[2] for entry in server.requests_for("/big.bin")]
    assert ranges == [None, "bytes=100000-"]
    assert not (tmp_path / "big.bin.part").exists()


def test_feature_transfer_resumes_in_the_next_run(server, tmp_path):
    data = _payload(200_000, seed=1)
    url = server.add("/big.bin", data)
    server.cut_next("/big.bin", 70_000)
    with pytest.raises(VosvfiError, match="after 0 retries"):
        fetch(url, tmp_path / "big.bin", expected_sha256=_sha(data), policy=RetryPolicy(retries=0, backoff=0.001), progress=False)
    assert (tmp_path / "big.bin.part").stat().st_size == 70_000
    fetch(url, tmp_path / "big.bin", expected_sha256=_sha(data), policy=FAST, progress=False)
    assert (tmp_path / "big.bin").read_bytes() == data
    assert server.requests_for("/big.bin")[-1][2] == "bytes=70000-"


def test_feature_file_changed_on_the_server_is_fetched_whole_not_spliced(server, tmp_path):
    old, new = _payload(200_000, seed=3), _payload(200_000, seed=4)
    url = server.add("/big.bin", old)
    server.cut_next("/big.bin", 70_000)
    with pytest.raises(VosvfiError, match="after 0 retries"):
        fetch(url, tmp_path / "big.bin", policy=RetryPolicy(retries=0, backoff=0.001), progress=False)
    server.add("/big.bin", new)  # the publisher replaced the file between the two runs
    result = fetch(url, tmp_path / "big.bin", policy=FAST, progress=False)
    assert (tmp_path / "big.bin").read_bytes() == new and result.sha256 == _sha(new)
    assert server.requests_for("/big.bin")[-1][2] == "bytes=70000-"
    assert server.if_range_log[-1] == '"' + _sha(old)[:16] + '"'
    assert not list(tmp_path.glob("*.validator"))


def test_feature_server_that_ignores_range_restarts_from_zero(server, tmp_path):
    data = _payload(150_000, seed=2)
    url = server.add("/big.bin", data)
    server.ignore_range.add("/big.bin")
    server.cut_next("/big.bin", 50_000)
    fetch(url, tmp_path / "big.bin", expected_sha256=_sha(data), policy=FAST, progress=False)
    assert (tmp_path / "big.bin").read_bytes() == data


def test_exception_404_fails_at_once_naming_url_and_status(server, tmp_path):
    url = server.url("/missing.zip")
    with pytest.raises(VosvfiError) as caught:
        fetch(url, tmp_path / "missing.zip", policy=FAST, progress=False)
    message = str(caught.value)
    assert "HTTP 404" in message and url in message and "\n" not in message
    assert len(server.requests_for("/missing.zip")) == 1


def test_exception_500_fails_after_the_retries(server, tmp_path):
    url = server.add("/flaky.zip", TOY)
    server.statuses["/flaky.zip"] = 500
    with pytest.raises(VosvfiError) as caught:
        fetch(url, tmp_path / "flaky.zip", policy=FAST, progress=False)
    message = str(caught.value)
    assert "after 3 retries" in message and "HTTP 500" in message and url in message and "\n" not in message
    assert len(server.requests_for("/flaky.zip")) == 4


def test_feature_5xx_then_recovery_succeeds(server, tmp_path):
    url = server.add("/flaky.zip", TOY)
    server.fail_next("/flaky.zip", 503, times=2)
    fetch(url, tmp_path / "flaky.zip", expected_sha256=_sha(TOY), policy=FAST, progress=False)
    assert (tmp_path / "flaky.zip").read_bytes() == TOY
    assert len(server.requests_for("/flaky.zip")) == 3


def _free_port() -> int:
    """A loopback port that nothing listens on (bound for a moment, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Waits this long would show: one retry under it takes 30 s, so a test finishing in seconds made none.
SLOW = RetryPolicy(retries=5, backoff=30.0, max_backoff=60.0, timeout=10)


def test_exception_refused_connection_fails_at_once(tmp_path):
    url = f"http://127.0.0.1:{_free_port()}/x.zip"
    started = time.perf_counter()
    with pytest.raises(DownloadError) as caught:
        fetch(url, tmp_path / "x.zip", policy=SLOW, progress=False)
    assert time.perf_counter() - started < 5
    message = str(caught.value)
    assert "connection refused" in message and url in message and "retries" not in message and "\n" not in message
    assert caught.value.final


@pytest.mark.parametrize("status", [503, 429])
def test_feature_503_and_429_are_retried_then_succeed(server, tmp_path, status):
    url = server.add("/busy.zip", TOY)
    server.fail_next("/busy.zip", status, times=3)
    fetch(url, tmp_path / "busy.zip", expected_sha256=_sha(TOY), policy=FAST, progress=False)
    assert (tmp_path / "busy.zip").read_bytes() == TOY
    assert len(server.requests_for("/busy.zip")) == 4


def test_exception_503_fails_once_the_retries_are_spent(server, tmp_path):
    url = server.add("/busy.zip", TOY)
    server.fail_next("/busy.zip", 503, times=10)
    with pytest.raises(DownloadError, match="after 3 retries: HTTP 503") as caught:
        fetch(url, tmp_path / "busy.zip", policy=FAST, progress=False)
    assert not caught.value.final
    assert len(server.requests_for("/busy.zip")) == 4


def test_feature_retry_after_sets_the_wait(server, tmp_path):
    url = server.add("/busy.zip", TOY)
    server.fail_next("/busy.zip", 503, times=2, headers={"Retry-After": "0"})
    started = time.perf_counter()
    fetch(url, tmp_path / "busy.zip", expected_sha256=_sha(TOY), policy=SLOW, progress=False)
    assert time.perf_counter() - started < 5  # the policy alone would have waited 30 s + 60 s
    assert len(server.requests_for("/busy.zip")) == 3


def test_feature_read_timeout_is_retried(server, tmp_path):
    url = server.add("/slow.zip", TOY)
    server.stall_next("/slow.zip", 2.0)
    policy = RetryPolicy(retries=2, backoff=0.001, timeout=0.3)
    fetch(url, tmp_path / "slow.zip", expected_sha256=_sha(TOY), policy=policy, progress=False)
    assert (tmp_path / "slow.zip").read_bytes() == TOY
    assert len(server.requests_for("/slow.zip")) == 2


def test_exception_404_is_not_retried_even_with_retries_left(server, tmp_path):
    url = server.url("/missing.zip")
    started = time.perf_counter()
    with pytest.raises(DownloadError, match="HTTP 404") as caught:
        fetch(url, tmp_path / "missing.zip", policy=SLOW, progress=False)
    assert time.perf_counter() - started < 5 and caught.value.final
    assert len(server.requests_for("/missing.zip")) == 1


def test_exception_size_mismatch_is_reported(server, tmp_path):
    url = server.add("/toy.zip", TOY)
    with pytest.raises(VosvfiError, match="expects 5 bytes"):
        fetch(url, tmp_path / "toy.zip", expected_size=5, policy=FAST, progress=False)


# ---- ensure_dataset: checksum, marker, lock, mirrors -------------------------------------------


def test_exception_wrong_checksum_leaves_nothing_marked_complete(server, tmp_path):
    url = server.add("/toy.zip", TOY)
    catalog = _catalog(tmp_path, {"toy": _entry(url, sha256="0" * 64)})
    root = tmp_path / "data"
    with pytest.raises(VosvfiError) as caught:
        ensure_dataset("toy", root, catalog=catalog, policy=FAST, progress=False)
    message = str(caught.value)
    assert "checksum mismatch" in message and "\n" not in message and "nothing was marked complete" in message
    assert not (root / "toy" / MARKER_NAME).exists()
    assert not any(downloads_dir(catalog.dataset("toy"), root).iterdir())


def test_feature_second_run_is_a_no_op_without_the_network(server, tmp_path):
    url = server.add("/toy.zip", TOY)
    catalog = _catalog(tmp_path, {"toy": _entry(url, sha256=_sha(TOY))})
    root = tmp_path / "data"
    directory = ensure_dataset("toy", root, catalog=catalog, policy=FAST, progress=False)
    assert (directory / "toy" / "a.txt").read_bytes() == b"alpha\n"
    assert (directory / MARKER_NAME).is_file()
    assert not downloads_dir(catalog.dataset("toy"), root).exists()  # archives deleted once complete
    requests_before = len(server.log)
    started = time.perf_counter()
    assert ensure_dataset("toy", root, catalog=catalog, policy=FAST, progress=False) == directory
    assert time.perf_counter() - started < 1.0
    assert len(server.log) == requests_before


def test_feature_first_download_records_the_checksum_and_later_ones_are_checked(server, tmp_path):
    url = server.add("/toy.zip", TOY)
    catalog = _catalog(tmp_path, {"toy": _entry(url)})
    root = tmp_path / "data"
    ensure_dataset("toy", root, catalog=catalog, policy=FAST, progress=False)
    locked = read_lock(catalog.lock_path).get("toy", "archive")
    assert locked is not None and locked.sha256 == _sha(TOY) and locked.size == len(TOY)
    shutil.rmtree(root / "toy")
    changed = _zip({"toy/a.txt": b"ALPHA\n", "toy/b.txt": b"beta\n"})  # same size, other bytes
    assert len(changed) == len(TOY)
    server.add("/toy.zip", changed)
    with pytest.raises(VosvfiError, match="checksum mismatch"):
        ensure_dataset("toy", root, catalog=catalog, policy=FAST, progress=False)


def test_exception_layout_failure_leaves_no_marker(server, tmp_path):
    url = server.add("/toy.zip", TOY)
    catalog = _catalog(tmp_path, {"toy": _entry(url, layout=[{"path": "toy", "glob": "*.txt", "count": 3}])})
    with pytest.raises(VosvfiError, match=r"layout check failed: .*found 2, expected 3"):
        ensure_dataset("toy", tmp_path / "data", catalog=catalog, policy=FAST, progress=False)
    assert not (tmp_path / "data" / "toy" / MARKER_NAME).exists()


def test_feature_mirror_from_local_file_then_environment(server, tmp_path, monkeypatch):
    catalog_url = server.url("/gone.zip")  # 404: only the mirrors work
    first = server.add("/mirror-one/toy.zip", TOY)
    second = server.add("/mirror-two/toy.zip", TOY)
    path = tmp_path / "catalog" / "data_catalog.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump({"version": 1, "datasets": {"toy": _entry(catalog_url, sha256=_sha(TOY))}}))
    (path.parent / "data_catalog.local.yaml").write_text(yaml.safe_dump({"mirrors": {"toy": {"archive": first}}}))
    catalog = load_catalog(path)
    ensure_dataset("toy", tmp_path / "data", catalog=catalog, policy=FAST, progress=False)
    assert server.requests_for("/mirror-one/toy.zip") and not server.requests_for("/gone.zip")
    monkeypatch.setenv("VOSVFI_MIRROR_TOY_ARCHIVE", second)
    ensure_dataset("toy", tmp_path / "data", catalog=catalog, policy=FAST, progress=False, force=True)
    assert server.requests_for("/mirror-two/toy.zip")


def _assert_ways_forward(message: str, name: str, url: str, directory: Path) -> None:
    assert "\n" not in message
    assert f"data set {name}:" in message and url in message
    assert str(directory) in message and f"vosvfi data verify {name} --adopt" in message
    assert f"data.local: {{{name}: " in message


@pytest.mark.parametrize("where", ["catalog", "mirror"])
def test_exception_unresolvable_host_fails_in_seconds_with_the_ways_forward(tmp_path, monkeypatch, where):
    url = "http://nonexistent.invalid/vosvfi/toy.zip"
    if where == "catalog":
        catalog = _catalog(tmp_path, {"toy": _entry(url)})
    else:
        catalog = _catalog(tmp_path, {"toy": _entry("https://example.org/toy.zip")})
        monkeypatch.setenv("VOSVFI_MIRROR_TOY_ARCHIVE", url)
    root = tmp_path / "data"
    started = time.perf_counter()
    with pytest.raises(VosvfiError) as caught:
        ensure_dataset("toy", root, catalog=catalog, progress=False)  # the default policy: 5 retries, 1 s doubling
    assert time.perf_counter() - started < 20  # a DNS answer may be slow; five retries alone would take 31 s
    message = str(caught.value)
    _assert_ways_forward(message, "toy", url, root / "toy")
    assert "cannot resolve host 'nonexistent.invalid'" in message and "retries" not in message
    assert f"--data-root {root}" in message and f"--catalog {catalog.path}" in message
    assert not (root / "toy" / MARKER_NAME).exists()


def test_exception_refused_connection_through_ensure_dataset_fails_at_once(tmp_path):
    url = f"http://127.0.0.1:{_free_port()}/toy.zip"
    catalog = _catalog(tmp_path, {"toy": _entry(url)})
    started = time.perf_counter()
    with pytest.raises(VosvfiError) as caught:
        ensure_dataset("toy", tmp_path / "data", catalog=catalog, policy=SLOW, progress=False)
    assert time.perf_counter() - started < 5
    _assert_ways_forward(str(caught.value), "toy", url, tmp_path / "data" / "toy")
    assert "connection refused" in str(caught.value)


def test_exception_spent_retries_through_ensure_dataset_say_so(server, tmp_path):
    url = server.add("/toy.zip", TOY)
    server.statuses["/toy.zip"] = 502
    catalog = _catalog(tmp_path, {"toy": _entry(url)})
    with pytest.raises(VosvfiError) as caught:
        ensure_dataset("toy", tmp_path / "data", catalog=catalog, policy=FAST, progress=False)
    _assert_ways_forward(str(caught.value), "toy", url, tmp_path / "data" / "toy")
    assert "HTTP 502" in str(caught.value) and "(3 retries spent)" in str(caught.value)
    assert len(server.requests_for("/toy.zip")) == 4


def test_feature_the_suggested_adopt_command_exists_and_works(tmp_path):
    url = "http://nonexistent.invalid/vosvfi/toy.zip"
    catalog = _catalog(tmp_path, {"toy": _entry(url, sha256=_sha(TOY))})
    root = tmp_path / "data"
    with pytest.raises(VosvfiError) as caught:
        ensure_dataset("toy", root, catalog=catalog, progress=False)
    command = str(caught.value).split("`")[1]
    assert command.startswith("vosvfi data verify toy --adopt")
    extract_archive(_write(tmp_path / "toy.zip", TOY), root / "toy", "zip")  # the user places a copy
    parser = argparse.ArgumentParser()
    data_commands.register(parser.add_subparsers())
    args = parser.parse_args(shlex.split(command)[1:])
    assert args.handler(args) == 0
    assert ensure_dataset("toy", root, catalog=catalog, progress=False) == root / "toy"  # now without the network


def test_feature_kept_archives_are_rehashed_by_verify(server, tmp_path):
    url = server.add("/toy.zip", TOY)
    catalog = _catalog(tmp_path, {"toy": _entry(url, sha256=_sha(TOY))})
    root = tmp_path / "data"
    ensure_dataset("toy", root, catalog=catalog, policy=FAST, progress=False, keep_archives=True)
    report = verify_dataset("toy", root, catalog=catalog)
    assert report.ok and report.archives_checked == 1
    archive = downloads_dir(catalog.dataset("toy"), root) / "toy.zip"
    corrupted = bytearray(TOY)
    corrupted[len(TOY) // 2] ^= 0xFF
    archive.write_bytes(bytes(corrupted))
    report = verify_dataset("toy", root, catalog=catalog)
    assert not report.ok and "differs from the expected" in report.problems[0]


def test_feature_verify_adopts_a_tree_placed_by_hand(tmp_path):
    catalog = _catalog(tmp_path, {"toy": _entry("https://example.org/toy.zip", sha256=_sha(TOY))})
    root = tmp_path / "data"
    extract_archive(_write(tmp_path / "toy.zip", TOY), root / "toy", "zip")
    report = verify_dataset("toy", root, catalog=catalog)
    assert not report.ok and "no completion marker" in report.problems[0]
    report = verify_dataset("toy", root, catalog=catalog, adopt=True)
    assert report.ok and report.adopted
    assert ensure_dataset("toy", root, catalog=catalog, progress=False) == root / "toy"  # no network needed


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ---- safe extraction ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad_name", ["../evil.txt", "/abs/evil.txt", "toy/../../evil.txt", "C:/evil.txt"])
def test_exception_zip_slip_is_rejected(tmp_path, bad_name):
    archive = _write(tmp_path / "slip.zip", _zip({"toy/good.txt": b"ok", bad_name: b"evil"}))
    destination = tmp_path / "out" / "deep"
    with pytest.raises(VosvfiError) as caught:
        extract_archive(archive, destination, "zip")
    assert "unsafe archive slip.zip" in str(caught.value) and repr(bad_name) in str(caught.value)
    assert not (destination / "toy" / "good.txt").exists()  # refused before writing anything
    assert not list(tmp_path.rglob("evil.txt"))


def test_exception_zip_slip_through_ensure_dataset_leaves_no_marker(server, tmp_path):
    bad = _zip({"toy/a.txt": b"a", "../../escaped.txt": b"evil"})
    url = server.add("/bad.zip", bad)
    catalog = _catalog(tmp_path, {"toy": _entry(url, sha256=_sha(bad))})
    with pytest.raises(VosvfiError, match="unsafe archive"):
        ensure_dataset("toy", tmp_path / "data", catalog=catalog, policy=FAST, progress=False)
    assert not (tmp_path / "data" / "toy" / MARKER_NAME).exists()
    assert not list(tmp_path.rglob("escaped.txt"))


def _zip_with_symlinks(links: list[tuple[str, str]], directories: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, target in links:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = 0o120777 << 16  # S_IFLNK | rwx
            archive.writestr(info, target)
        for name in directories:
            archive.writestr(zipfile.ZipInfo(name), b"")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("links", "directories"),
    [
        ([("toy/link", "../../outside")], ()),
        ([("toy/link", "other.txt")], ()),
        # A chain: l1 looks inside while s does not exist yet; once s -> . exists, l1 leaves.
        ([("toy/l1", "s/../../victim"), ("toy/s", ".")], ("toy/l1/newdir/",)),
    ],
)
def test_exception_zip_symlinks_are_refused_before_anything_is_written(tmp_path, links, directories):
    archive = _write(tmp_path / "link.zip", _zip_with_symlinks(links, directories))
    with pytest.raises(VosvfiError, match="is a symbolic link"):
        extract_archive(archive, tmp_path / "out", "zip")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))
    assert not (tmp_path / "victim").exists()


def _tar(build, mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        build(archive)
    return buffer.getvalue()


def _add_file(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def _add_link(archive: tarfile.TarFile, name: str, target: str, kind: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    archive.addfile(info)


@pytest.mark.parametrize(
    ("name", "target", "kind", "reason"),
    [
        ("toy/up", "../../../etc/passwd", tarfile.SYMTYPE, "links outside"),
        ("toy/abs", "/etc/passwd", tarfile.SYMTYPE, "absolute path"),
        ("toy/hard", "../outside.txt", tarfile.LNKTYPE, "links outside"),
        ("toy/dev", "", tarfile.CHRTYPE, "special file"),
    ],
)
def test_exception_tar_links_outside_are_rejected(tmp_path, name, target, kind, reason):
    def build(archive: tarfile.TarFile) -> None:
        _add_file(archive, "toy/good.txt", b"ok")
        _add_link(archive, name, target, kind)

    archive = _write(tmp_path / "bad.tar", _tar(build))
    with pytest.raises(VosvfiError, match=reason):
        extract_archive(archive, tmp_path / "out", "tar")
    assert not (tmp_path / "out" / "toy" / "good.txt").exists()


def test_exception_tar_dotdot_member_is_rejected(tmp_path):
    archive = _write(tmp_path / "bad.tar.gz", _tar(lambda a: _add_file(a, "../evil.txt", b"x"), "w:gz"))
    with pytest.raises(VosvfiError, match=r"contains '\.\.'"):
        extract_archive(archive, tmp_path / "out", "tar.gz")
    assert not (tmp_path / "evil.txt").exists()


def test_feature_tar_gz_extracts_files_and_inside_links(tmp_path):
    def build(archive: tarfile.TarFile) -> None:
        _add_file(archive, "toy/a.txt", b"alpha")
        _add_link(archive, "toy/alias.txt", "a.txt", tarfile.SYMTYPE)

    archive = _write(tmp_path / "ok.tar.gz", _tar(build, "w:gz"))
    extract_archive(archive, tmp_path / "out", "tar.gz")
    assert (tmp_path / "out" / "toy" / "alias.txt").read_bytes() == b"alpha"


def test_exception_corrupt_archive_is_one_line(tmp_path):
    archive = _write(tmp_path / "broken.zip", b"not a zip at all")
    with pytest.raises(VosvfiError, match="not a valid zip archive"):
        extract_archive(archive, tmp_path / "out", "zip")


# ---- the real Middlebury archives ------------------------------------------------------------

_MIDDLEBURY_SIZES = {  # (height, width), from ../shared/README.md
    **{name: (480, 640) for name in ("Beanbags", "DogDance", "Grove2", "Grove3", "MiniCooper", "Urban2", "Urban3", "Walking")},
    **{name: (388, 584) for name in ("Dimetrodon", "Hydrangea", "RubberWhale")},
    "Venus": (380, 420),
}


@pytest.mark.shared
def test_feature_real_middlebury_archives_download_extract_and_read(shared_dir, server, tmp_path, monkeypatch):
    archives = shared_dir / "data" / "archives"
    sums = dict(reversed(line.split()) for line in (archives / "SHA256SUMS").read_text().splitlines() if line.strip())
    for source, file in (("COLOR_TWOFRAMES", "other-color-twoframes.zip"), ("GT_INTERP", "other-gt-interp.zip")):
        monkeypatch.setenv(f"VOSVFI_MIRROR_MIDDLEBURY_OTHER_{source}", server.add(f"/{file}", archives / file))
    # The repository's own entry (layout checks included), copied so that the lock file lands in tmp_path.
    catalog_copy = tmp_path / "catalog" / "data_catalog.yaml"
    catalog_copy.parent.mkdir()
    shutil.copyfile(default_catalog_path(), catalog_copy)
    catalog = load_catalog(catalog_copy)
    root = tmp_path / "data"
    server.cut_next("/other-color-twoframes.zip", 3_000_000)  # and resume it
    directory = ensure_dataset("middlebury_other", root, catalog=catalog, policy=FAST, progress=False)
    lock = read_lock(catalog.lock_path)
    assert lock.get("middlebury_other", "color_twoframes").sha256 == sums["other-color-twoframes.zip"]
    assert lock.get("middlebury_other", "gt_interp").sha256 == sums["other-gt-interp.zip"]
    assert verify_dataset("middlebury_other", root, catalog=catalog).ok
    dataset = MiddleburyOther(directory)
    assert dataset.names == list(OTHER_SEQUENCES)
    for item in dataset:
        height, width = _MIDDLEBURY_SIZES[item["name"]]
        for key in ("frame0", "frame1", "frame2"):
            assert item[key].shape == (3, height, width)
            assert float(item[key].min()) >= 0.0 and float(item[key].max()) <= 1.0
    requests_before = len(server.log)
    ensure_dataset("middlebury_other", root, catalog=catalog, policy=FAST, progress=False)
    assert len(server.log) == requests_before


def test_feature_corrupt_marker_means_not_complete(server, tmp_path):
    url = server.add("/toy.zip", TOY)
    catalog = _catalog(tmp_path, {"toy": _entry(url, sha256=_sha(TOY))})
    root = tmp_path / "data"
    directory = ensure_dataset("toy", root, catalog=catalog, policy=FAST, progress=False)
    (directory / MARKER_NAME).write_text('{"dataset": "toy", "sources": [1, 2]')
    before = len(server.log)
    ensure_dataset("toy", root, catalog=catalog, policy=FAST, progress=False)
    assert len(server.log) == before + 1
    assert verify_dataset("toy", root, catalog=catalog).ok


def test_feature_file_url_mirror_is_copied_and_verified(tmp_path):
    (tmp_path / "mirror").mkdir()
    source = _write(tmp_path / "mirror" / "toy.zip", TOY)
    result = fetch(source.as_uri(), tmp_path / "out" / "toy.zip", expected_sha256=_sha(TOY), progress=False)
    assert result.path.read_bytes() == TOY
    with pytest.raises(VosvfiError, match="checksum mismatch"):
        fetch(source.as_uri(), tmp_path / "other" / "toy.zip", expected_sha256="1" * 64, progress=False)
    assert not list((tmp_path / "other").iterdir())


# ---- the data commands' output -----------------------------------------------------------------


def test_feature_data_list_piped_into_head_ends_quietly(tmp_path):
    # Long lines and many entries: far more than a pipe holds, so the writer is still writing when head exits.
    datasets = {f"set_{i:03d}_{'x' * 150}": {**_entry("https://example.org/toy.zip"), "directory": f"set_{i}"} for i in range(500)}
    catalog = _catalog(tmp_path, datasets)
    vosvfi = Path(sys.executable).with_name("vosvfi")
    listing = subprocess.Popen(
        [str(vosvfi), "data", "list", "--catalog", str(catalog.path), "--data-root", str(tmp_path / "data")], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    head = subprocess.Popen(["head", "-1"], stdin=listing.stdout, stdout=subprocess.PIPE)
    listing.stdout.close()  # head alone holds the reading end
    first, _ = head.communicate(timeout=120)
    errors = listing.stderr.read().decode()
    listing.stderr.close()
    assert listing.wait(timeout=120) == 0, errors
    assert first.decode().split() == ["NAME", "STATUS", "SIZE", "DESCRIPTION"]
    assert errors == ""
