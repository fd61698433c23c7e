"""Fixtures shared by every tier: the repo root and the real test images beside the checkout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_IMAGES = REPO_ROOT.parent / "shared" / "images"


@pytest.fixture(scope="session")
def shared_images() -> Path:
    """``../shared/images`` (see its README); the test is skipped with a clear message when it is absent."""
    if not SHARED_IMAGES.is_dir():
        pytest.skip(f"the real test images are missing: expected {SHARED_IMAGES} beside the checkout")
    return SHARED_IMAGES


@pytest.fixture(scope="session", autouse=True)
def responses_follow_the_contract() -> Iterator[None]:
    """Every response a test gets through ``chalice.test.Client`` is checked against the OpenAPI document
    (``tests/contract.py``): a status, header, body or error code the document does not describe fails that test."""
    from chalice.test import TestHTTPClient

    from tests.contract import check_response

    original = TestHTTPClient.request

    def checked(
        self: TestHTTPClient, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Any:
        response = original(self, method, path, headers=headers, body=body)
        check_response(method, path, headers or {}, response.status_code, response.headers, response.body)
        return response

    TestHTTPClient.request = checked  # type: ignore[method-assign]
    try:
        yield
    finally:
        TestHTTPClient.request = original  # type: ignore[method-assign]
