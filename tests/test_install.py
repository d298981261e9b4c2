"""A regular (non-editable) install finds its profiles and catalog, and runs from any working directory:
installed into a virtual environment, and with ``pip install --user`` (the package under the user base, not under ``sys.prefix``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
# Where each install must find the shipped files, printed by the installed package itself.
WHERE = (
    "import vosvfi_core; from vosvfi_core.config import load_profile, profiles_dir; from vosvfi_core.data.catalog import default_catalog_path, load_catalog; "
    "load_profile('demo'); load_catalog(); print(vosvfi_core.__file__); print(profiles_dir()); print(default_catalog_path())"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built from a copy (a build in the checkout would leave build/ and *.egg-info behind)."""
    folder = tmp_path_factory.mktemp("wheel")

    def skipped(parent: str, names: list[str]) -> set[str]:
        top = {".git", ".venv", "data", "runs", ".prefect", "build"} if Path(parent) == ROOT else set()
        return {n for n in names if n in top or n == "__pycache__" or n.endswith(".egg-info")}

    shutil.copytree(ROOT, folder / "source", ignore=skipped)
    subprocess.run([*PIP, "wheel", "--no-deps", "--no-build-isolation", "-w", str(folder / "wheels"), str(folder / "source")], check=True, cwd=folder)
    return next((folder / "wheels").glob("vosvfi-*.whl"))


def _env(tmp_path: Path, **more: str) -> dict[str, str]:
    env = {**os.environ, "VOSVFI_DATA_ROOT": str(tmp_path / "data"), "VOSVFI_RUNS_ROOT": str(tmp_path / "runs"), "PREFECT_HOME": str(tmp_path / "prefect")}
    for name in ("VOSVFI_CONFIGS_DIR", "VOSVFI_CATALOG", "PYTHONPATH"):
        env.pop(name, None)
    return {**env, **more}


def _where(python: Path, env: dict[str, str], cwd: Path) -> list[Path]:
    """The installed package's file, profiles folder and catalog, as that installation sees them."""
    done = subprocess.run([str(python), "-c", WHERE], env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return [Path(line) for line in done.stdout.splitlines()]


@pytest.mark.slow
def test_feature_a_wheel_install_runs_the_data_stage_elsewhere(tmp_path: Path, wheel: Path) -> None:
    prefix, elsewhere = tmp_path / "prefix", tmp_path / "elsewhere"
    elsewhere.mkdir()
    # A bare venv without pip, holding only vosvfi; its dependencies come from this environment's
    # site-packages through a .pth line (which, unlike site-packages itself, runs no editable-install hook).
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    # --ignore-installed: without it pip would first uninstall this environment's (editable) vosvfi.
    subprocess.run([*PIP, "install", "--no-deps", "--ignore-installed", "--prefix", str(prefix), str(wheel)], check=True)
    site = next(prefix.glob("lib/python*/site-packages"))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = _env(tmp_path)

    package, profiles, catalog = _where(prefix / "bin" / "python", env, elsewhere)
    assert package.is_relative_to(site)  # the installed copy, not the checkout
    assert profiles == site / "vosvfi_core" / "resources" / "configs" and catalog == site / "vosvfi_core" / "resources" / "data_catalog.yaml"
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


@pytest.mark.slow
def test_feature_a_user_install_finds_its_profiles_and_catalog(tmp_path: Path, wheel: Path) -> None:
    """``pip install --user`` under ``PYTHONUSERBASE``: the package lands in the user site, outside ``sys.prefix``."""
    base_python = Path(getattr(sys, "_base_executable", sys.executable))
    userbase, elsewhere = tmp_path / "userbase", tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _env(tmp_path, PYTHONUSERBASE=str(userbase))
    env.pop("PYTHONNOUSERSITE", None)
    found = subprocess.run([str(base_python), "-c", "import site, sys; print(site.ENABLE_USER_SITE, sys.prefix)"], env=env, capture_output=True, text=True)
    enabled, prefix = found.stdout.split()
    if enabled != "True":
        pytest.skip(f"needs an interpreter outside a virtual environment with user site-packages ({base_python})")
    installed = subprocess.run(
        [str(base_python), "-m", "pip", "--disable-pip-version-check", "-q", "install", "--user", "--no-deps", "--no-index", "--ignore-installed", str(wheel)],
        env=env,
        capture_output=True,
        text=True,
    )
    if installed.returncode != 0 and "No module named pip" in installed.stderr:
        pytest.skip(f"{base_python} has no pip")
    assert installed.returncode == 0, installed.stderr[-2000:]
    site = Path(subprocess.run([str(base_python), "-m", "site", "--user-site"], env=env, capture_output=True, text=True).stdout.strip())
    assert site.is_relative_to(userbase) and not site.is_relative_to(Path(prefix))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # the dependencies, as in the venv case

    package, profiles, catalog = _where(base_python, env, elsewhere)
    assert package.is_relative_to(site)
    assert profiles == site / "vosvfi_core" / "resources" / "configs" and (profiles / "demo.yaml").is_file()
    assert catalog == site / "vosvfi_core" / "resources" / "data_catalog.yaml" and catalog.is_file()
    listed = subprocess.run([str(base_python), "-m", "flows.cli", "data", "list"], env=env, cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0 and "vimeo90k" in listed.stdout, listed.stderr[-2000:]
