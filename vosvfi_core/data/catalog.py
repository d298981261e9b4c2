"""The data catalog: what each data set is, where it comes from, how it is laid out.

``data_catalog.yaml`` is validated on load, so a typo is a one-line error naming the entry and field.
Per-source mirror URLs come, in order of precedence, from ``$VOSVFI_MIRROR_<DATASET>_<SOURCE>``,
then from ``data_catalog.local.yaml`` beside the catalog, then from the catalog itself.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from vosvfi_core.data._yaml import one_line, read_yaml
from vosvfi_core.data.synthetic.config import DemoDataConfig
from vosvfi_core.errors import VosvfiError
from vosvfi_core.resources import resource_path

__all__ = [
    "ArchiveFormat",
    "Catalog",
    "DatasetEntry",
    "LayoutCheck",
    "License",
    "MirrorOverrides",
    "Source",
    "Split",
    "data_root",
    "default_catalog_path",
    "load_catalog",
    "mirror_env_var",
]

ArchiveFormat = Literal["zip", "tar", "tar.gz", "tar.bz2", "tar.xz", "file"]

_NAME = r"^[a-z][a-z0-9_]*$"
_SHA256 = r"^[0-9a-f]{64}$"
Name = Annotated[str, Field(pattern=_NAME)]


def data_root() -> Path:
    """``$VOSVFI_DATA_ROOT``, or ``data/`` under the working directory (absolute, not resolved)."""
    return Path(os.environ.get("VOSVFI_DATA_ROOT") or "data").expanduser().absolute()


def default_catalog_path() -> Path:
    """``$VOSVFI_CATALOG``, or the shipped ``data_catalog.yaml`` (``vosvfi_core/resources/``)."""
    override = os.environ.get("VOSVFI_CATALOG")
    if override:
        return Path(override).expanduser()
    return resource_path("data_catalog.yaml")


def mirror_env_var(dataset: str, source: str) -> str:
    """The environment variable that overrides one source's URL: ``VOSVFI_MIRROR_<DATASET>_<SOURCE>``,
    upper-cased, every character other than A-Z and 0-9 turned into '_'."""
    dataset_part, source_part = (re.sub(r"[^A-Z0-9]", "_", text.upper()) for text in (dataset, source))
    return f"VOSVFI_MIRROR_{dataset_part}_{source_part}"


def _check_relative(value: str, *, allow_empty: bool) -> str:
    """A POSIX path that stays inside its base folder: no absolute path, no '..', no backslash."""
    if value in ("", ".") and allow_empty:
        return ""
    if not value or "\\" in value:
        raise ValueError(f"{value!r} is not a relative POSIX path")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(f"{value!r} must be relative and must not contain '..'")
    return str(path)


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https", "file") or (parts.scheme != "file" and not parts.netloc):
        raise ValueError(f"{value!r} is not an http(s):// or file:// URL")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class License(_Model):
    name: str = Field(min_length=1)
    url: str

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)


class Source(_Model):
    """One downloadable file: where it is, what it should hash to, how to unpack it."""

    name: Name
    url: str
    filename: str | None = None  # default: the last component of the URL's path
    size: int | None = Field(default=None, gt=0)  # bytes, where published
    sha256: str | None = Field(default=None, pattern=_SHA256)  # where published; else the lock file
    format: ArchiveFormat
    extract_to: str = ""  # folder under the data set's directory

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)

    @field_validator("extract_to")
    @classmethod
    def _extract_to(cls, value: str) -> str:
        return _check_relative(value, allow_empty=True)

    @field_validator("filename")
    @classmethod
    def _filename(cls, value: str | None) -> str | None:
        if value is not None and (not value or "/" in value or "\\" in value or value in (".", "..")):
            raise ValueError(f"{value!r} is not a plain file name")
        return value

    @property
    def file_name(self) -> str:
        return self.filename or PurePosixPath(urlsplit(self.url).path).name


class LayoutCheck(_Model):
    """One expectation about the extracted tree, relative to the data set's directory.

    ``path`` must exist (as ``kind``). With ``glob``, the entries matching it under ``path`` are
    counted against ``count`` (exact) or ``min_count``; with ``lines`` (exact) or ``min_lines``, the
    file's non-empty lines.
    """

    path: str
    kind: Literal["dir", "file"] = "dir"
    glob: str | None = None
    count: int | None = Field(default=None, ge=0)
    min_count: int | None = Field(default=None, ge=0)
    lines: int | None = Field(default=None, ge=0)
    min_lines: int | None = Field(default=None, ge=0)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _check_relative(value, allow_empty=True)

    @model_validator(mode="after")
    def _consistent(self) -> LayoutCheck:
        if (self.count is not None or self.min_count is not None) and self.glob is None:
            raise ValueError("count/min_count need a glob")
        if self.glob is not None and self.kind != "dir":
            raise ValueError("glob needs kind: dir")
        if (self.lines is not None or self.min_lines is not None) and self.kind != "file":
            raise ValueError("lines/min_lines need kind: file")
        return self


class Split(_Model):
    """A named subset: a list file in the extracted tree, explicit items, or both; ``count`` when known."""

    list_file: str | None = None
    items: list[str] | None = None
    count: int | None = Field(default=None, ge=0)
    description: str = ""

    @field_validator("list_file")
    @classmethod
    def _list_file(cls, value: str | None) -> str | None:
        return None if value is None else _check_relative(value, allow_empty=False)


class DatasetEntry(_Model):
    name: str = ""  # filled in from the catalog key
    description: str = Field(min_length=1)
    homepage: str | None = None
    license: License
    directory: str  # where it lives under the data root
    generated: bool = False  # made by vosvfi (the demo), not downloaded
    generator: DemoDataConfig | None = None
    sources: list[Source] = Field(default_factory=list)
    layout: list[LayoutCheck] = Field(min_length=1)
    splits: dict[Name, Split] = Field(default_factory=dict)
    paths: dict[Name, str] = Field(default_factory=dict)  # named places other stages read or write

    _catalog: Catalog | None = PrivateAttr(default=None)

    @field_validator("homepage")
    @classmethod
    def _homepage(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)

    @field_validator("directory")
    @classmethod
    def _directory(cls, value: str) -> str:
        return _check_relative(value, allow_empty=False)

    @field_validator("paths")
    @classmethod
    def _paths(cls, value: dict[str, str]) -> dict[str, str]:
        return {key: _check_relative(path, allow_empty=True) for key, path in value.items()}

    @model_validator(mode="after")
    def _sources_or_generator(self) -> DatasetEntry:
        if self.generated:
            if self.sources:
                raise ValueError("a generated data set has no sources")
            if self.generator is None:
                raise ValueError("a generated data set needs a generator block")
        else:
            if not self.sources:
                raise ValueError("needs at least one source (or generated: true)")
            if self.generator is not None:
                raise ValueError("generator is only for generated: true")
        names = [source.name for source in self.sources]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate source names: {', '.join(duplicates)}")
        return self

    @property
    def catalog(self) -> Catalog | None:
        """The catalog this entry was loaded from (for its lock file and local overrides)."""
        return self._catalog

    def source(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        raise VosvfiError(f"data set {self.name!r} has no source {name!r}")

    def source_url(self, source: Source) -> str:
        """The URL to fetch ``source`` from, after the environment and the local override file."""
        override = os.environ.get(mirror_env_var(self.name, source.name))
        if override:
            try:
                return _check_url(override)
            except ValueError as error:
                raise VosvfiError(f"${mirror_env_var(self.name, source.name)}: {error}") from None
        if self._catalog is not None:
            local = self._catalog.mirrors.get(self.name, {}).get(source.name)
            if local:
                return local
        return source.url

    def path(self, key: str, root: Path | None = None) -> Path:
        """A named place (``paths:``) of this data set under the data root."""
        if key not in self.paths:
            raise VosvfiError(f"data set {self.name!r} names no path {key!r} (has: {', '.join(sorted(self.paths)) or 'none'})")
        return self.directory_under(root) / self.paths[key]

    def directory_under(self, root: Path | None = None) -> Path:
        return (data_root() if root is None else Path(root)) / self.directory


class MirrorOverrides(_Model):
    """``data_catalog.local.yaml``: per-machine mirrors, never committed."""

    mirrors: dict[str, dict[str, str]] = Field(default_factory=dict)

    @field_validator("mirrors")
    @classmethod
    def _urls(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        return {dataset: {source: _check_url(url) for source, url in sources.items()} for dataset, sources in value.items()}


class Catalog(_Model):
    version: Literal[1]
    datasets: dict[Name, DatasetEntry]

    _path: Path | None = PrivateAttr(default=None)
    _mirrors: dict[str, dict[str, str]] = PrivateAttr(default_factory=dict)

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def lock_path(self) -> Path | None:
        """``<catalog>.lock.yaml`` beside the catalog: checksums recorded at first download."""
        return None if self._path is None else self._path.with_name(f"{self._path.stem}.lock.yaml")

    @property
    def local_path(self) -> Path | None:
        """``<catalog>.local.yaml`` beside the catalog: this machine's mirror URLs."""
        return None if self._path is None else self._path.with_name(f"{self._path.stem}.local.yaml")

    @property
    def mirrors(self) -> dict[str, dict[str, str]]:
        return self._mirrors

    def dataset(self, name: str) -> DatasetEntry:
        try:
            return self.datasets[name]
        except KeyError:
            raise VosvfiError(f"unknown data set {name!r} (catalog has: {', '.join(sorted(self.datasets))})") from None


def _load_mirrors(path: Path, catalog: Catalog) -> dict[str, dict[str, str]]:
    raw = read_yaml(path)
    if raw is None:
        return {}
    try:
        overrides = MirrorOverrides.model_validate(raw)
    except ValidationError as error:
        raise VosvfiError(one_line(path, error)) from None
    for dataset, sources in overrides.mirrors.items():
        entry = catalog.datasets.get(dataset)
        if entry is None:
            raise VosvfiError(f"{path}: mirrors.{dataset}: no such data set in the catalog")
        known = {source.name for source in entry.sources}
        for source in sources:
            if source not in known:
                raise VosvfiError(f"{path}: mirrors.{dataset}.{source}: no such source (has: {', '.join(sorted(known))})")
    return overrides.mirrors


def load_catalog(path: Path | None = None) -> Catalog:
    """Read and validate the catalog (default: :func:`default_catalog_path`) and its local overrides."""
    path = Path(path) if path is not None else default_catalog_path()
    if not path.is_file():
        raise VosvfiError(f"catalog file not found: {path}")
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise VosvfiError(f"{path}: expected a mapping with 'version' and 'datasets'")
    datasets = raw.get("datasets")
    if isinstance(datasets, dict):
        for key, entry in datasets.items():
            if isinstance(entry, dict):
                if "name" in entry and entry["name"] != key:
                    raise VosvfiError(f"{path}: datasets.{key}.name: must equal the key {key!r} or be left out")
                entry["name"] = key
    try:
        catalog = Catalog.model_validate(raw)
    except ValidationError as error:
        raise VosvfiError(one_line(path, error)) from None
    catalog._path = path.absolute()
    for entry in catalog.datasets.values():
        entry._catalog = catalog
    local = catalog.local_path
    if local is not None and local.is_file():
        catalog._mirrors = _load_mirrors(local, catalog)
    return catalog
