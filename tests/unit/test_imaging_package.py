"""Package-level behaviour: lazy Pillow import, value objects, and concurrent use."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from chalicelib.imaging import EncodedImage, process_image

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_package_does_not_import_pillow() -> None:
    code = (
        "import sys, chalicelib.imaging as imaging\n"
        "assert 'PIL' not in sys.modules, 'Pillow imported eagerly'\n"
        "imaging.process_image\n"
        "assert 'PIL' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_encoded_image_describes_itself_without_bytes_in_repr() -> None:
    image = EncodedImage(b"x" * 10, 3, 4, "jpeg")
    assert (image.content_type, image.extension) == ("image/jpeg", "jpg")
    assert image.describe() == {"width": 3, "height": 4, "bytes": 10, "format": "jpeg"}
    assert "xxxx" not in repr(image)


def test_concurrent_calls_give_the_same_results_as_sequential_ones(image_bytes: Callable[[str], bytes]) -> None:
    names = ["portrait-450x600.jpg", "cmyk-with-icc.jpg", "photo-1024x772.webp", "exif-orientation-6.jpg"]
    sequential = [process_image(image_bytes(name)).metadata() for name in names]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda name: process_image(image_bytes(name)).metadata(), names))
    assert concurrent == sequential


def test_importing_the_app_does_not_import_pillow() -> None:
    # Given a fresh interpreter with the API's environment
    code = "import sys, app\nassert 'PIL' not in sys.modules, 'Pillow imported by the API'\n"
    env = {"SLEEVE_BUCKET_NAME": "b", "SLEEVE_JWT_SECRET": "x" * 32, "PATH": "/usr/bin:/bin"}
    # When the Chalice app (every route, every worker) is imported
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    # Then Pillow stays out of the process
    assert done.returncode == 0, done.stderr
