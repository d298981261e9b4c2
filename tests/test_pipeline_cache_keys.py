"""Cache keys: what goes in (config sections, data manifests, code version) and what may not."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from tasks.caching import fingerprint, vosvfi_cache_key
from vosvfi_core import provenance
from vosvfi_core.config import EvaluateConfig, TrainConfig
from vosvfi_core.provenance import DataRef


def _inputs(tmp_path: Path, **changes) -> dict:
    return {"config": TrainConfig(epochs=2), "data": DataRef("d", tmp_path), "run_folder": tmp_path / "run", "name": "x", **changes}


def test_feature_equal_inputs_give_equal_keys(tmp_path: Path) -> None:
    (tmp_path / "f.png").write_bytes(b"1")
    assert fingerprint("train", _inputs(tmp_path)) == fingerprint("train", _inputs(tmp_path))
    context = SimpleNamespace(task=SimpleNamespace(name="train"))
    assert vosvfi_cache_key(context, _inputs(tmp_path)) == "train-" + fingerprint("train", _inputs(tmp_path))


def test_feature_each_ingredient_changes_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "f.png").write_bytes(b"1")
    base = fingerprint("train", _inputs(tmp_path))
    assert fingerprint("evaluate", _inputs(tmp_path)) != base  # the task
    assert fingerprint("train", _inputs(tmp_path, config=TrainConfig(epochs=3))) != base  # the config section
    assert fingerprint("train", _inputs(tmp_path, name="y")) != base  # a plain input
    os.utime(tmp_path / "f.png", ns=(5, 5))
    touched = fingerprint("train", _inputs(tmp_path))
    assert touched != base  # the data read, as it is on disk now
    monkeypatch.setattr(provenance, "code_version", lambda: "another version")
    assert fingerprint("train", _inputs(tmp_path)) != touched  # the library's code


def test_feature_sections_are_keyed_by_content_not_type(tmp_path: Path) -> None:
    a = fingerprint("t", {"config": EvaluateConfig(pictures=1)})
    assert a == fingerprint("t", {"config": EvaluateConfig(pictures=1)})
    assert a != fingerprint("t", {"config": EvaluateConfig(pictures=2)})


def test_exception_unkeyable_inputs_are_refused() -> None:
    with pytest.raises(TypeError, match="cannot build a cache key from a object"):
        fingerprint("t", {"thing": object()})


def test_feature_task_sources_change_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks import caching

    base = fingerprint("train", _inputs(tmp_path))
    monkeypatch.setattr(caching, "_tasks_version", lambda: "edited task bodies")
    assert fingerprint("train", _inputs(tmp_path)) != base


def test_feature_checkpoint_folder_ignores_how_training_is_run(tmp_path: Path) -> None:
    from tasks.training import checkpoint_dir
    from vosvfi_core.models.registry import MODELS

    data = DataRef("d", tmp_path)
    base = checkpoint_dir(tmp_path, "m", TrainConfig(epochs=2), MODELS.check("adacof"), data)
    assert base.parent == tmp_path / "checkpoints" and base.name.startswith("m-")
    for harmless in ({"num_workers": 3}, {"log_every": 7}, {"checkpoint_every": 5}, {"device": "cpu"}, {"epochs": 4}):
        assert checkpoint_dir(tmp_path, "m", TrainConfig(**{"epochs": 2, **harmless}), MODELS.check("adacof"), data) == base
    assert checkpoint_dir(tmp_path, "m", TrainConfig(epochs=2, lr=5e-4), MODELS.check("adacof"), data) != base
    assert checkpoint_dir(tmp_path, "m", TrainConfig(epochs=2), MODELS.check({"type": "adacof", "kernel_size": 11, "dilation": 2}), data) != base
    assert checkpoint_dir(tmp_path, "other", TrainConfig(epochs=2), MODELS.check("adacof"), data).name.startswith("other-")
