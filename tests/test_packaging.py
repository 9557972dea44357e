"""The wheel ships everything the app reads at run time: every file tracked under the packages
(templates, static files, translation catalogues, crisis data, playbooks, model heads, training
data, migrations) is in it, so an installed replyline finds them as a checkout does."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from zipfile import ZipFile

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "nlp", "playbooks", "db")


def tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know which files are the project's")
    listing = subprocess.run(
        ["git", "ls-files", "--", *PACKAGES], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return [name for name in listing.stdout.splitlines() if (ROOT / name).is_file()]


def test_the_wheel_holds_every_file_tracked_under_the_packages(tmp_path):
    files = tracked_files()
    source = tmp_path / "source"
    for name in [*files, "pyproject.toml", "README.md"]:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["--no-cache-dir", "--disable-pip-version-check", "-w", str(tmp_path / "wheel")]
        + [str(source)],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    [wheel] = (tmp_path / "wheel").glob("*.whl")
    shipped = set(ZipFile(wheel).namelist())
    assert [name for name in files if name not in shipped] == []
    data = {name.rsplit(".", 1)[-1] for name in shipped if not name.endswith(".py")}
    assert {"po", "html", "css", "js", "yaml", "npz", "mako"} <= data
