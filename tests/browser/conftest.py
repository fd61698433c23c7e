"""Browser fixtures: headless Debian Chromium driven by Playwright, against the same local stack as the e2e tier.

Chromium comes from Debian's ``chromium`` package (``make test`` installs it when it runs as root); Playwright never
downloads a browser of its own. Without ``/usr/bin/chromium`` the browser tests are skipped with a message.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import (  # noqa: F401  (fixtures shared with the e2e tier)
    api,
    aws,
    fake_dsp,
    jwt_secret,
    pytest_runtest_makereport,
    stack,
    stack_log_on_failure,
)

# Flags for a closed network: no background fetches, updates or sync, which would be refused over and over.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Chromium (Debian's) for the session."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium): browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page in its own context (downloads allowed)."""
    context = browser.new_context(accept_downloads=True)
    yield context.new_page()
    context.close()
