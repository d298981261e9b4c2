"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import yaml
from pipeline_profile import TINY_PROFILE

SHARED_DIR = Path(os.environ.get("VOSVFI_SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``../shared`` folder beside the checkout; the test is skipped where it is absent."""
    if not (SHARED_DIR / "README.md").is_file():
        pytest.skip(f"needs ../shared beside the checkout (looked for {SHARED_DIR})")
    return SHARED_DIR


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """A temporary Prefect API (SQLite) for the whole session."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_URL.value())


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Data and runs roots of their own, and the tiny pipeline profile at ``tmp_path/tiny.yaml``."""
    monkeypatch.setenv("VOSVFI_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("VOSVFI_RUNS_ROOT", str(tmp_path / "runs"))
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY_PROFILE))
    return tmp_path


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A loadable AdaCoF checkpoint file (kernel size 3), the smallest the loader accepts."""
    from vosvfi_core.checkpoint_format import save_checkpoint
    from vosvfi_core.models.adacof import adacof

    path = tmp_path_factory.mktemp("checkpoint") / "tiny.pth"
    save_checkpoint(path, adacof(kernel_size=3), epoch=0)
    return path


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Small tensors on a slow or loaded machine: one intra-op thread avoids contention stalls."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


def cuda_with_cupy() -> bool:
    """True where a CUDA device answers and cupy can launch on it."""
    if not torch.cuda.is_available():
        return False
    try:
        import cupy

        cupy.cuda.runtime.getDeviceCount()
        return True
    except Exception:  # cupy raises several RuntimeError subclasses when no usable device exists
        return False
