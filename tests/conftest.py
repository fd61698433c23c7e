"""Fixtures shared by every tier: the repo root and the real test images beside the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_IMAGES = REPO_ROOT.parent / "shared" / "images"


@pytest.fixture(scope="session")
def shared_images() -> Path:
    """``../shared/images`` (see its README); the test is skipped with a clear message when it is absent."""
    if not SHARED_IMAGES.is_dir():
        pytest.skip(f"the real test images are missing: expected {SHARED_IMAGES} beside the checkout")
    return SHARED_IMAGES
