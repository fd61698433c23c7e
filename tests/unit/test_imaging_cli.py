"""``python -m chalicelib.cli variants FILE --out DIR``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_variants_writes_files_and_prints_metadata(
    images_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    status = main(["variants", str(images_dir / "portrait-450x600.jpg"), "--out", str(out)])
    assert status == 0
    meta = json.loads(capsys.readouterr().out)
    assert sorted(path.name for path in out.iterdir()) == ["original.jpg", "small.webp", "tiny.webp"]
    assert meta["variants"]["small"] == {
        "width": 300,
        "height": 300,
        "bytes": (out / "small.webp").stat().st_size,
        "format": "webp",
    }
    assert meta["original"]["bytes"] == (out / "original.jpg").stat().st_size
    assert meta["missing_variants"] == ["medium", "large"]
    assert meta["crop_box"] == [0, 75, 450, 525]


def test_refused_image_prints_the_error_body_and_exits_2(
    images_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["variants", str(images_dir / "truncated.jpg"), "--out", str(tmp_path / "out")])
    assert status == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    body = json.loads(captured.err)
    assert body["error"]["code"] == "corrupt_image"
    assert set(body["error"]) == {"code", "message", "details"}
    assert not (tmp_path / "out").exists()


def test_unreadable_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["variants", str(tmp_path / "missing.jpg"), "--out", str(tmp_path)]) == 1
    assert "missing.jpg" in capsys.readouterr().err


def test_a_subcommand_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2


def test_runs_as_a_module(images_dir: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "chalicelib.cli",
            "variants",
            str(images_dir / "lowres-128.jpg"),
            "--out",
            str(tmp_path),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["variants"]["tiny"]["width"] == 64
    assert (tmp_path / "tiny.webp").is_file() and (tmp_path / "original.jpg").is_file()
