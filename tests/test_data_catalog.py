"""The data catalog: validation with one-line errors, mirrors, the data root, layout checks, the CLI."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from vosvfi_core.commands import data as data_commands
from vosvfi_core.data.catalog import data_root, default_catalog_path, load_catalog, mirror_env_var
from vosvfi_core.data.datasets import MASKS_SUBDIR
from vosvfi_core.data.layout import check_layout
from vosvfi_core.errors import VosvfiError

CATALOG_ENTRIES = {
    "vimeo90k",
    "middlebury_other",
    "middlebury_eval",
    "ucf101",
    "davis2016",
    "davis2017_trainval",
    "snufilm",
    "otb100",
    "demo",
}


def _valid_entry() -> dict:
    return {
        "description": "toy",
        "license": {"name": "test", "url": "https://example.org/terms"},
        "directory": "toy",
        "sources": [{"name": "archive", "url": "https://example.org/toy.zip", "format": "zip"}],
        "layout": [{"path": "toy"}],
    }


def _write(tmp_path: Path, document: dict, name: str = "data_catalog.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_smoke_repository_catalog_has_every_data_set_the_method_uses():
    catalog = load_catalog()
    assert set(catalog.datasets) == CATALOG_ENTRIES
    assert catalog.path == default_catalog_path().absolute()
    for name, entry in catalog.datasets.items():
        assert entry.name == name and entry.license.url.startswith("http")
        assert entry.generated == (name == "demo")


def test_feature_catalog_masks_path_matches_the_vimeo_reader():
    catalog = load_catalog()
    assert catalog.dataset("vimeo90k").paths["masks"] == MASKS_SUBDIR
    assert catalog.dataset("demo").paths["masks"] == MASKS_SUBDIR


def test_cardinality_otb_lists_98_videos_and_middlebury_12_sequences():
    catalog = load_catalog()
    assert len(catalog.dataset("otb100").sources) == 98
    assert catalog.dataset("middlebury_other").splits["all"].count == 12
    assert len(catalog.dataset("middlebury_other").splits["all"].items) == 12


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda e: e["sources"][0].update(sha256="abc"), r"datasets\.toy\.sources\[0\]\.sha256"),
        (lambda e: e["sources"][0].update(url="ftp://example.org/x.zip"), r"datasets\.toy\.sources\[0\]\.url"),
        (lambda e: e["sources"][0].update(format="rar"), r"datasets\.toy\.sources\[0\]\.format"),
        (lambda e: e["sources"][0].update(extract_to="../up"), r"datasets\.toy\.sources\[0\]\.extract_to"),
        (lambda e: e.update(directory="/abs"), r"datasets\.toy\.directory"),
        (lambda e: e.update(colour="blue"), r"datasets\.toy\.colour"),
        (lambda e: e.pop("license"), r"datasets\.toy\.license"),
        (lambda e: e.update(layout=[{"path": "x", "count": 3}]), r"datasets\.toy\.layout\[0\]"),
        (lambda e: e.update(sources=[]), r"datasets\.toy"),
    ],
)
def test_exception_bad_entry_is_one_line_naming_entry_and_field(tmp_path, mutate, expected):
    entry = _valid_entry()
    mutate(entry)
    path = _write(tmp_path, {"version": 1, "datasets": {"toy": entry}})
    with pytest.raises(VosvfiError, match=expected) as caught:
        load_catalog(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_exception_bad_yaml_and_missing_file(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\ndatasets: [unclosed\n")
    with pytest.raises(VosvfiError, match="invalid YAML at line"):
        load_catalog(broken)
    with pytest.raises(VosvfiError, match="catalog file not found"):
        load_catalog(tmp_path / "nope.yaml")


def test_exception_unknown_dataset_lists_the_known_ones(tmp_path):
    catalog = load_catalog(_write(tmp_path, {"version": 1, "datasets": {"toy": _valid_entry()}}))
    with pytest.raises(VosvfiError, match=r"unknown data set 'vimeo' \(catalog has: toy\)"):
        catalog.dataset("vimeo")


def test_feature_mirror_precedence_environment_then_local_file_then_catalog(tmp_path, monkeypatch):
    path = _write(tmp_path, {"version": 1, "datasets": {"toy": _valid_entry()}})
    entry = load_catalog(path).dataset("toy")
    assert entry.source_url(entry.source("archive")) == "https://example.org/toy.zip"
    _write(tmp_path, {"mirrors": {"toy": {"archive": "https://mirror.example.org/toy.zip"}}}, "data_catalog.local.yaml")
    entry = load_catalog(path).dataset("toy")
    assert entry.source_url(entry.source("archive")) == "https://mirror.example.org/toy.zip"
    monkeypatch.setenv("VOSVFI_MIRROR_TOY_ARCHIVE", "file:///srv/toy.zip")
    assert entry.source_url(entry.source("archive")) == "file:///srv/toy.zip"


def test_feature_mirror_env_var_name_normalises():
    assert mirror_env_var("davis2017_trainval", "trainval_480p") == "VOSVFI_MIRROR_DAVIS2017_TRAINVAL_TRAINVAL_480P"
    assert mirror_env_var("a-b.c", "x y") == "VOSVFI_MIRROR_A_B_C_X_Y"


def test_exception_local_override_with_unknown_names(tmp_path):
    path = _write(tmp_path, {"version": 1, "datasets": {"toy": _valid_entry()}})
    _write(tmp_path, {"mirrors": {"toy": {"archvie": "https://m.example.org/t.zip"}}}, "data_catalog.local.yaml")
    with pytest.raises(VosvfiError, match=r"mirrors\.toy\.archvie: no such source"):
        load_catalog(path)
    _write(tmp_path, {"mirrors": {"tyo": {"archive": "https://m.example.org/t.zip"}}}, "data_catalog.local.yaml")
    with pytest.raises(VosvfiError, match=r"mirrors\.tyo: no such data set"):
        load_catalog(path)


def test_exception_bad_mirror_environment_variable(tmp_path, monkeypatch):
    entry = load_catalog(_write(tmp_path, {"version": 1, "datasets": {"toy": _valid_entry()}})).dataset("toy")
    monkeypatch.setenv("VOSVFI_MIRROR_TOY_ARCHIVE", "not a url")
    with pytest.raises(VosvfiError, match=r"\$VOSVFI_MIRROR_TOY_ARCHIVE"):
        entry.source_url(entry.source("archive"))


def test_feature_catalog_path_from_environment(tmp_path, monkeypatch):
    path = _write(tmp_path, {"version": 1, "datasets": {"toy": _valid_entry()}})
    monkeypatch.setenv("VOSVFI_CATALOG", str(path))
    assert set(load_catalog().datasets) == {"toy"}
    assert load_catalog().lock_path == path.with_name("data_catalog.lock.yaml")


def test_feature_data_root_from_environment_or_working_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("VOSVFI_DATA_ROOT", str(tmp_path / "elsewhere"))
    assert data_root() == tmp_path / "elsewhere"
    monkeypatch.delenv("VOSVFI_DATA_ROOT")
    monkeypatch.chdir(tmp_path)
    assert data_root() == tmp_path / "data"


def test_feature_layout_check_counts_lines_and_missing_paths(tmp_path):
    from vosvfi_core.data.catalog import LayoutCheck

    (tmp_path / "seqs" / "a").mkdir(parents=True)
    (tmp_path / "seqs" / "b").mkdir()
    (tmp_path / "list.txt").write_text("a\n\nb\n")
    checks = [
        LayoutCheck(path="seqs", glob="*", count=2),
        LayoutCheck(path="list.txt", kind="file", lines=2),
        LayoutCheck(path="list.txt", kind="file", min_lines=3),
        LayoutCheck(path="seqs", glob="*", min_count=3),
        LayoutCheck(path="missing"),
    ]
    problems = check_layout(tmp_path, checks)
    assert problems == [
        f"{tmp_path / 'list.txt'}: 2 non-empty lines, expected at least 3",
        f"{tmp_path / 'seqs'}/*: found 2, expected at least 3",
        f"missing folder {tmp_path / 'missing'}",
    ]
    assert check_layout(tmp_path, checks, counts=False) == [f"missing folder {tmp_path / 'missing'}"]


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="vosvfi")
    data_commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


def test_smoke_cli_data_list(tmp_path, capsys):
    assert _run(["data", "list", "--data-root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in CATALOG_ENTRIES:
        assert name in out
    assert "absent" in out and "generated" in out and str(tmp_path) in out


def test_exception_cli_download_unknown_name(tmp_path):
    with pytest.raises(VosvfiError, match="unknown data set 'nope'"):
        _run(["data", "download", "nope", "--data-root", str(tmp_path)])
