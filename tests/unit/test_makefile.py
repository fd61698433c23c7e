"""The Makefile finds a Python 3.12 by itself (the PATH if it runs, else pyenv's newest) and remakes a .venv of another
Python. Run against stand-in interpreters and a stand-in pyenv root: nothing is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")

# The interpreter running the tests is the project's 3.12 (see pyproject.toml and the Makefile).
REAL_312 = Path(sys.executable).resolve()
REFUSING_SHIM = '#!/bin/sh\necho "pyenv: python3.12: command not found" >&2\nexit 127\n'


def _make(*args: str, path: list[Path], home: Path, pyenv_root: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``make -s ARGS`` in the checkout with only ``path`` and the few tools the Makefile runs on the PATH (so that no
    python3.12 or pyenv of this machine is seen)."""
    tools = home / "tools"
    if not tools.exists():
        for tool in ("ls", "sort", "cat"):
            _link(tools / tool, Path(shutil.which(tool) or f"/bin/{tool}"))
    env = {"HOME": str(home), "PATH": os.pathsep.join(map(str, [*path, tools]))}
    if pyenv_root is not None:
        env["PYENV_ROOT"] = str(pyenv_root)
    return subprocess.run(
        [shutil.which("make") or "make", "-s", "--no-print-directory", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def _link(path: Path, target: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


@pytest.fixture
def refusing_shim(tmp_path: Path) -> Path:
    """A folder holding a ``python3.12`` that refuses, as pyenv's shim does when 3.12 is not the global version."""
    _executable(tmp_path / "shims" / "python3.12", REFUSING_SHIM)
    return tmp_path / "shims"


def test_a_refusing_shim_on_the_path_falls_back_to_pyenvs_newest_working_3_12(
    tmp_path: Path, refusing_shim: Path
) -> None:
    # Given: the refusing shim first on the PATH, and a pyenv root with 3.12.1, 3.12.9 and a broken 3.12.10
    root = tmp_path / "pyenv"
    _link(root / "versions" / "3.12.1" / "bin" / "python3.12", REAL_312)
    newest_working = _link(root / "versions" / "3.12.9" / "bin" / "python3.12", REAL_312)
    _executable(root / "versions" / "3.12.10" / "bin" / "python3.12", "#!/bin/sh\nexit 1\n")
    _link(root / "versions" / "3.11.7" / "bin" / "python3.11", REAL_312)

    # When
    found = _make("which-python", path=[refusing_shim], home=tmp_path, pyenv_root=root)

    # Then
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(newest_working)


def test_a_python3_12_on_the_path_that_runs_is_taken_first(tmp_path: Path) -> None:
    # Given: a working python3.12 on the PATH, and a pyenv root with another one
    _link(tmp_path / "bin" / "python3.12", REAL_312)
    root = tmp_path / "pyenv"
    _link(root / "versions" / "3.12.9" / "bin" / "python3.12", REAL_312)

    # When
    found = _make("which-python", path=[tmp_path / "bin"], home=tmp_path, pyenv_root=root)

    # Then: the interpreter itself, not the pyenv one
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()).resolve() == REAL_312
    assert "pyenv" not in found.stdout


def test_without_any_3_12_make_says_what_to_install(tmp_path: Path, refusing_shim: Path) -> None:
    # Given: only the refusing shim and an empty pyenv root
    # When
    found = _make("which-python", path=[refusing_shim], home=tmp_path, pyenv_root=tmp_path / "empty")

    # Then
    assert found.returncode != 0
    assert "apt-get install python3.12 python3.12-venv" in found.stderr
    assert "pyenv install 3.12" in found.stderr


def test_python_on_the_command_line_must_be_a_3_12(tmp_path: Path) -> None:
    other = _executable(tmp_path / "python3.11", "#!/bin/sh\nexit 1\n")
    found = _make("which-python", f"PYTHON={other}", path=[], home=tmp_path)
    assert found.returncode != 0
    assert f"PYTHON={other} is not a working Python 3.12" in found.stderr


def _venv(tmp_path: Path, python: Path, stamp: str) -> Path:
    """A stand-in .venv: ``bin/python`` → ``python`` and a stamp newer than the requirements files."""
    venv = tmp_path / "venv"
    _link(venv / "bin" / "python", python)
    (venv / ".installed").write_text(stamp)
    return venv


@pytest.mark.parametrize(
    ("python", "stamp", "up_to_date"),
    [
        ("312", "{version} /opt/python", True),
        ("312", "", False),  # made by the Makefile before the stamp recorded the version
        ("312", "3.12.0 /opt/python", False),  # the stamp names another interpreter than the venv's
        ("311", "3.11.7 /usr", False),  # a .venv of Python 3.11 is recreated
    ],
)
def test_a_venv_of_another_python_or_an_old_stamp_is_installed_again(
    tmp_path: Path, python: str, stamp: str, up_to_date: bool
) -> None:
    # Given: a .venv whose python is 3.12 or a stand-in 3.11, and its stamp
    version = "{}.{}.{}".format(*sys.version_info[:3])
    interpreter = REAL_312 if python == "312" else _executable(tmp_path / "py311", "#!/bin/sh\necho 3.11.7\n")
    venv = _venv(tmp_path, interpreter, stamp.format(version=version))

    # When: make is asked whether `install` has anything to do (-q runs nothing)
    asked = _make("-q", f"VENV={venv}", f"{venv}/.installed", path=[], home=tmp_path)

    # Then
    assert (asked.returncode == 0) is up_to_date, asked.stderr
