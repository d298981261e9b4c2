"""Make a catalog data set present and trustworthy under the data root, once.

``ensure_dataset`` fetches every source (resuming, verified), records first-seen checksums in the
lock file, extracts safely, checks the layout and only then writes the completion marker
``<data set>/.vosvfi-complete.json``. With a valid marker it returns at once, without the network.
Archives wait in ``<data root>/.downloads/<data set>/`` until the marker is written.

Retries happen in :mod:`vosvfi_core.io.fetch` only, and only for transient failures; a download
that cannot succeed (offline, refused, HTTP 4xx) stops at once with a one-line error that says how
to put the data in place by hand.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shlex
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import vosvfi_core
from vosvfi_core.data.catalog import Catalog, DatasetEntry, data_root, default_catalog_path, load_catalog
from vosvfi_core.data.extract import extract_archive
from vosvfi_core.data.layout import check_layout
from vosvfi_core.data.lockfile import read_lock, record_lock
from vosvfi_core.data.synthetic.config import DemoDataConfig
from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.atomic import atomic_path
from vosvfi_core.io.fetch import DownloadError, FetchedFile, RetryPolicy, copy_fetched, fetch, file_sha256, remove_fetched

__all__ = [
    "MARKER_NAME",
    "VerifyReport",
    "dataset_status",
    "downloads_dir",
    "ensure_dataset",
    "marker_problem",
    "resolve_entry",
    "verify_dataset",
]

MARKER_NAME = ".vosvfi-complete.json"


def resolve_entry(entry_or_name: DatasetEntry | str, catalog: Catalog | None = None) -> DatasetEntry:
    if isinstance(entry_or_name, DatasetEntry):
        return entry_or_name
    return (catalog or load_catalog()).dataset(entry_or_name)


def downloads_dir(entry: DatasetEntry, root: Path | None = None) -> Path:
    return (data_root() if root is None else Path(root)) / ".downloads" / entry.name


def _structure_hash(entry: DatasetEntry) -> str:
    """What the extracted tree depends on, besides the bytes of the sources (URLs excluded: mirrors may differ)."""
    payload = {
        "directory": entry.directory,
        "sources": [{"name": s.name, "format": s.format, "extract_to": s.extract_to, "file": s.file_name} for s in entry.sources],
        "layout": [check.model_dump(mode="json") for check in entry.layout],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _expected(entry: DatasetEntry) -> dict[str, tuple[str | None, int | None]]:
    """Per source: the SHA-256 and size to check against, from the catalog or else the lock file."""
    lock = read_lock(entry.catalog.lock_path if entry.catalog is not None else None)
    expected = {}
    for source in entry.sources:
        locked = lock.get(entry.name, source.name)
        sha256 = source.sha256 or (locked.sha256 if locked else None)
        size = source.size or (locked.size if locked else None)
        expected[source.name] = (sha256, size)
    return expected


def _read_marker(directory: Path) -> dict[str, Any] | None:
    try:
        marker = json.loads((directory / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def marker_problem(entry: DatasetEntry, root: Path | None = None, *, generator: DemoDataConfig | None = None) -> str | None:
    """Why the data set is not known complete (None when its marker is valid): a cheap check, no hashing."""
    directory = entry.directory_under(root)
    marker = _read_marker(directory)
    if marker is None:
        return f"no completion marker in {directory}"
    if marker.get("dataset") != entry.name or marker.get("structure") != _structure_hash(entry):
        return f"the completion marker in {directory} is for another catalog entry"
    recorded = marker.get("sources")
    recorded = recorded if isinstance(recorded, dict) else {}
    for name, (sha256, _) in _expected(entry).items():
        if not isinstance(recorded.get(name), dict):
            return f"the completion marker in {directory} lacks source {name!r}"
        if sha256 is not None and recorded[name].get("sha256") not in (sha256, None):
            return f"source {name!r} was installed from other bytes than the catalog expects"
    if entry.generated:
        config = generator or entry.generator
        if marker.get("generator") != (config.model_dump(mode="json") if config else None):
            return f"{directory} was generated with other settings"
    missing = check_layout(directory, entry.layout, counts=False)
    return missing[0] if missing else None


def _write_marker(entry: DatasetEntry, directory: Path, sources: dict[str, dict[str, Any]], *, generator: DemoDataConfig | None, adopted: bool = False) -> None:
    marker = {
        "dataset": entry.name,
        "structure": _structure_hash(entry),
        "sources": sources,
        "generator": generator.model_dump(mode="json") if generator is not None else None,
        "adopted": adopted,
        "completed": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "vosvfi": vosvfi_core.__version__,
    }
    with atomic_path(directory / MARKER_NAME) as tmp:
        tmp.write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _layout_or_raise(entry: DatasetEntry, directory: Path) -> None:
    problems = check_layout(directory, entry.layout)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise VosvfiError(f"{entry.name}: layout check failed: {problems[0]}{more}")


def _ways_forward(entry: DatasetEntry, root: Path | None) -> str:
    """How to get the data set in place without the network, with the exact ``verify`` command."""
    options = ""
    if root is not None and Path(root).absolute() != data_root():
        options += f" --data-root {shlex.quote(str(Path(root).absolute()))}"
    catalog_path = entry.catalog.path if entry.catalog is not None else None
    if catalog_path is not None and catalog_path != default_catalog_path().absolute():
        options += f" --catalog {shlex.quote(str(catalog_path))}"
    described = f"{catalog_path} describes" if catalog_path is not None else "the catalog describes"
    return (
        f"to go on without the network, place a copy at {entry.directory_under(root)} (laid out as {described} under datasets.{entry.name}.layout) "
        f"and run `vosvfi data verify {entry.name} --adopt{options}`, or name a copy elsewhere in the profile: data.local: {{{entry.name}: /path/to/copy}}"
    )


def _fetch_sources(entry: DatasetEntry, root: Path | None, *, policy: RetryPolicy | None, progress: bool) -> dict[str, FetchedFile]:
    lock_path = entry.catalog.lock_path if entry.catalog is not None else None
    expected = _expected(entry)
    fetched = {}
    for source in entry.sources:
        sha256, size = expected[source.name]
        url = entry.source_url(source)
        try:
            result = fetch(
                url,
                downloads_dir(entry, root) / source.file_name,
                expected_sha256=sha256,
                expected_size=size,
                policy=policy,
                progress=progress,
                label=f"{entry.name}/{source.name}",
            )
        except DownloadError as error:
            spent = "" if error.final else f" ({(policy or RetryPolicy()).retries} retries spent)"
            raise VosvfiError(
                f"data set {entry.name}: cannot download source {source.name!r} from {error.url}: {error.reason}{spent}; {_ways_forward(entry, root)}"
            ) from error
        if sha256 is None and lock_path is not None:
            record_lock(lock_path, entry.name, source.name, url=url, size=result.size, sha256=result.sha256)
        fetched[source.name] = result
    return fetched


def ensure_dataset(
    entry_or_name: DatasetEntry | str,
    root: Path | None = None,
    *,
    progress: bool = True,
    catalog: Catalog | None = None,
    keep_archives: bool = False,
    policy: RetryPolicy | None = None,
    generator: DemoDataConfig | None = None,
    force: bool = False,
) -> Path:
    """The data set's directory under ``root`` (default: the data root), complete and verified.

    A valid completion marker makes this a no-op (no network, no hashing) unless ``force``. For a
    generated data set (the demo), ``generator`` replaces the catalog's settings.
    """
    entry = resolve_entry(entry_or_name, catalog)
    directory = entry.directory_under(root)
    if not force and marker_problem(entry, root, generator=generator) is None:
        return directory
    (directory / MARKER_NAME).unlink(missing_ok=True)
    if entry.generated:
        from vosvfi_core.data.synthetic.writers import write_demo_tree

        config = generator or entry.generator
        assert config is not None  # the catalog's validation guarantees a generator block
        write_demo_tree(directory, config)
        _layout_or_raise(entry, directory)
        _write_marker(entry, directory, {}, generator=config)
        return directory
    fetched = _fetch_sources(entry, root, policy=policy, progress=progress)
    for source in entry.sources:
        archive = fetched[source.name].path
        destination = directory / source.extract_to if source.extract_to else directory
        if source.format == "file":
            copy_fetched(archive, destination / source.file_name)
        else:
            extract_archive(archive, destination, source.format, progress=progress)
    _layout_or_raise(entry, directory)
    _write_marker(
        entry,
        directory,
        {name: {"sha256": f.sha256, "size": f.size, "url": entry.source_url(entry.source(name))} for name, f in fetched.items()},
        generator=None,
    )
    if not keep_archives:
        for result in fetched.values():
            remove_fetched(result.path)
        for folder in (downloads_dir(entry, root), downloads_dir(entry, root).parent):
            if folder.is_dir() and not any(folder.iterdir()):
                with contextlib.suppress(OSError):  # another download may have just created a file there
                    folder.rmdir()
    return directory


@dataclass
class VerifyReport:
    name: str
    directory: Path
    problems: list[str] = field(default_factory=list)
    archives_checked: int = 0
    adopted: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_dataset(
    entry_or_name: DatasetEntry | str,
    root: Path | None = None,
    *,
    catalog: Catalog | None = None,
    adopt: bool = False,
) -> VerifyReport:
    """Check a data set thoroughly: its marker, the full layout (counts included) and any kept archives.

    With ``adopt``, a tree that was put in place by hand and passes the layout check gets a marker
    (recorded as adopted, since its archives' checksums could not be checked).
    """
    entry = resolve_entry(entry_or_name, catalog)
    directory = entry.directory_under(root)
    report = VerifyReport(entry.name, directory)
    if not directory.is_dir():
        report.problems.append(f"missing folder {directory}")
        return report
    layout = check_layout(directory, entry.layout)
    report.problems += layout
    expected = _expected(entry)
    for source in entry.sources:
        archive = downloads_dir(entry, root) / source.file_name
        if archive.is_file():
            report.archives_checked += 1
            sha256 = expected[source.name][0]
            actual = file_sha256(archive)
            if sha256 is not None and actual != sha256:
                report.problems.append(f"{archive}: sha256 {actual} differs from the expected {sha256}")
    problem = marker_problem(entry, root)
    if problem is not None:
        if adopt and not layout and not report.problems and not entry.generated and _read_marker(directory) is None:
            sources = {s.name: {"sha256": expected[s.name][0], "size": expected[s.name][1], "url": entry.source_url(s)} for s in entry.sources}
            _write_marker(entry, directory, sources, generator=None, adopted=True)
            report.adopted = True
        else:
            report.problems.insert(0, problem)
    return report


def dataset_status(entry: DatasetEntry, root: Path | None = None) -> Literal["complete", "incomplete", "absent"]:
    """``complete`` (valid marker), ``incomplete`` (folder without a valid marker) or ``absent``."""
    if marker_problem(entry, root) is None:
        return "complete"
    return "incomplete" if entry.directory_under(root).exists() else "absent"
