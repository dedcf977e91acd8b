"""editbench installed from a wheel, run away from the checkout: the Hydra config, the launcher
examples, the sample data and the report templates all travel inside the package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from .conftest import ROOT, local_overrides

pytestmark = pytest.mark.slow

# What the wheel is built from. The build runs on a copy, so that it leaves nothing in the
# checkout and no build/ folder of an earlier build can slip stale files into the wheel.
BUILD_SOURCES = ("pyproject.toml", "README.md", "editbench", "conf", "launchers")
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]


def run(command: list[str | Path], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in BUILD_SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(ROOT / name, source / name)
    wheels = tmp_path_factory.mktemp("wheels")
    result = run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", wheels, source]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (built,) = wheels.glob("editbench-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the wheel is installed into, without its dependencies (the venv has them)."""
    target = tmp_path_factory.mktemp("installed")
    result = run([*PIP, "install", "--no-deps", "--target", target, wheel])
    assert result.returncode == 0, result.stderr[-3000:]
    return target.resolve()


@pytest.fixture(scope="module")
def away(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder with no checkout in it."""
    return tmp_path_factory.mktemp("away")


def python(installed: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` with the wheel's editbench ahead of the editable one on the path."""
    return run([sys.executable, *args], cwd=cwd, env={**os.environ, "PYTHONPATH": str(installed)})


def test_wheel_holds_every_module_config_template_and_sample(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "editbench"
    expected = {
        *(path.relative_to(ROOT) for path in package.rglob("*.py")),
        *(path.relative_to(ROOT) for path in (package / "results" / "templates").glob("*.j2")),
        *(
            path.relative_to(ROOT)
            for path in (package / "sample_data").rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        ),
        *(Path("editbench", path.relative_to(ROOT)) for path in (ROOT / "conf").rglob("*.yaml")),
        *(
            Path("editbench", path.relative_to(ROOT))
            for path in (ROOT / "launchers").rglob("*.yaml")
        ),
        Path("editbench/conf/__init__.py"),
        Path("editbench/launchers/__init__.py"),
    }
    assert any(path.suffix == ".j2" for path in expected)
    assert any(path.suffix == ".jsonl" for path in expected)  # the sample manifest
    missing = sorted(str(path) for path in expected if path.as_posix() not in names)
    assert not missing, f"missing from {wheel.name}: {missing}"


def test_the_wheel_is_what_runs(installed: Path, away: Path):
    result = python(
        installed,
        "-c",
        "import editbench, editbench.conf, editbench.launchers as l;"
        "print(editbench.__file__, editbench.conf.__file__, l.__file__)",
        cwd=away,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    files = [Path(name) for name in result.stdout.split()]
    assert len(files) == 3
    for file in files:
        assert file.resolve().is_relative_to(installed), f"{file} is not from the wheel"


def test_help_lists_the_packaged_groups(installed: Path, away: Path):
    result = python(installed, "-m", "editbench", "--help", cwd=away)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Quick start (tiny models, CPU):  python -m editbench experiment=demo" in result.stdout
    assert "\nexperiment: demo\n" in result.stdout
    for group in ("editor", "protocol", "dataset"):
        shipped = ", ".join(sorted(path.stem for path in (ROOT / "conf" / group).glob("*.yaml")))
        assert f"\n{group}: {shipped}\n" in result.stdout


def test_demo_composes(installed: Path, away: Path):
    result = python(installed, "-m", "editbench", "experiment=demo", "--cfg", "job", cwd=away)
    assert result.returncode == 0, result.stderr[-3000:]
    cfg = OmegaConf.create(result.stdout)
    assert cfg.gpus == "cpu"
    assert OmegaConf.to_container(cfg.editor)["model"] == "${tiny_model:qwen_image_edit}"


def test_demo_dry_run_reads_the_packaged_samples_and_templates(installed: Path, away: Path):
    run_dir = away / "dry_run"
    result = python(
        installed,
        "-m",
        "editbench",
        "experiment=demo",
        "dry_run=true",
        f"hydra.run.dir={run_dir}",
        *local_overrides(away),
        cwd=away,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    resolved = OmegaConf.load(run_dir / "config.yaml")
    assert Path(resolved.dataset.root).resolve() == installed / "editbench" / "sample_data"
    requests = [
        json.loads(line) for line in (run_dir / "judge_requests.jsonl").read_text().splitlines()
    ]
    assert len(requests) == 10
    page = (run_dir / "judge_requests.html").read_text()
    assert all(request["id"] in page for request in requests)
    assert not (away / "store").exists()


@pytest.mark.parametrize(
    ("launcher", "target"),
    [
        ("slurm", "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"),
        ("local", "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"),
    ],
)
def test_launcher_examples_resolve_without_config_dir(
    installed: Path, away: Path, launcher: str, target: str
):
    result = python(
        installed,
        "-m",
        "editbench",
        f"hydra/launcher={launcher}",
        "--cfg",
        "hydra",
        "--package",
        "hydra.launcher",
        cwd=away,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    settings = OmegaConf.create(result.stdout)
    assert settings._target_ == target
    assert settings.timeout_min == 720  # set by editbench's example, not the plugin's default
