"""A regular (non-editable) install finds its profiles and catalog, and runs from any working directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_feature_a_wheel_install_runs_the_data_stage_elsewhere(tmp_path: Path) -> None:
    wheels, prefix, elsewhere, source = tmp_path / "wheels", tmp_path / "prefix", tmp_path / "elsewhere", tmp_path / "source"
    elsewhere.mkdir()

    # Built from a copy: a build in the checkout would leave build/ and *.egg-info behind.
    def skipped(folder: str, names: list[str]) -> set[str]:
        top = {".git", ".venv", "data", "runs", ".prefect", "build"} if Path(folder) == ROOT else set()
        return {n for n in names if n in top or n == "__pycache__" or n.endswith(".egg-info")}

    shutil.copytree(ROOT, source, ignore=skipped)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)], check=True, cwd=tmp_path)
    wheel = next(wheels.glob("vosvfi-*.whl"))
    # A bare venv without pip, holding only vosvfi; its dependencies come from this environment's
    # site-packages through a .pth line (which, unlike site-packages itself, runs no editable-install hook).
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    # --ignore-installed: without it pip would first uninstall this environment's (editable) vosvfi.
    subprocess.run([*pip, "install", "--no-deps", "--ignore-installed", "--prefix", str(prefix), str(wheel)], check=True)
    site = next(prefix.glob("lib/python*/site-packages"))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    assert (prefix / "share" / "vosvfi" / "configs" / "demo.yaml").is_file() and (prefix / "share" / "vosvfi" / "data_catalog.yaml").is_file()

    env = {**os.environ, "VOSVFI_DATA_ROOT": str(tmp_path / "data"), "VOSVFI_RUNS_ROOT": str(tmp_path / "runs"), "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("VOSVFI_CONFIGS_DIR", None)
    env.pop("VOSVFI_CATALOG", None)
    where = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", "import vosvfi_core; print(vosvfi_core.__file__)"],
        env=env,
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(site)), where.stdout  # the installed copy, not the checkout
    overrides = ["--set", "data.synthetic.train_count=4", "--set", "data.synthetic.test_count=2"]
    # The script's shebang names the interpreter that ran pip; run it with the venv's own.
    done = subprocess.run(
        [str(prefix / "bin" / "python"), str(prefix / "bin" / "vosvfi"), "run", "data", "--profile", "demo", *overrides],
        env=env,
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "data" / "demo" / "vimeo_triplet").is_dir()
    assert (tmp_path / "runs" / "demo" / "report.md").is_file()
