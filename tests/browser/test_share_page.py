"""The share page as a person uses it: open the link, see the cover, pick a size and a format, download."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from tests.e2e.conftest import Api
from tests.e2e.test_artwork_flow import upload_photo, wait_for_artwork


def _shared_link(api: Api, shared_images: Path) -> tuple[str, str]:
    upload = upload_photo(api, shared_images)
    artwork = wait_for_artwork(api, upload.subject, upload.release_id, ("ready", "failed"))
    assert artwork["status"] == "ready", artwork
    created = api.post(f"/releases/{upload.release_id}/share-links", {}, subject=upload.subject)
    assert created.status_code == 201, created.text
    return created.json()["url"], upload.subject


def test_a_visitor_downloads_the_size_and_format_they_pick(api: Api, page: Any, shared_images: Path, tmp_path: Path):
    url, _ = _shared_link(api, shared_images)
    # Given the share page
    page.goto(url)
    assert page.locator("h1").inner_text() == "Björk – Vespertine"
    # the preview really loads (a presigned GET of the 640 px variant)
    page.wait_for_function("document.querySelector('img').complete && document.querySelector('img').naturalWidth > 0")
    assert page.evaluate("document.querySelector('img').naturalWidth") == 640
    # and the pickers offer what exists: every size of a 2725 px photo (large preselected), every format
    options = "s => Array.from(s.options).map(o => o.value)"
    assert page.eval_on_selector("select[name=size]", options) == ["tiny", "small", "medium", "large", "original"]
    assert page.eval_on_selector("select[name=size]", "s => s.value") == "large"
    assert page.eval_on_selector("select[name=format]", options) == ["webp", "png", "jpeg"]
    # When they pick "small" as PNG and press Download
    page.select_option("select[name=size]", "small")
    page.select_option("select[name=format]", "png")
    with page.expect_download() as info:
        page.click("button[type=submit]")
    download = info.value
    # Then the browser saves a 300×300 PNG named after the release, with the UTF-8 filename*
    assert download.suggested_filename == "Björk - Vespertine (small).png"
    saved = tmp_path / "download.png"
    download.save_as(saved)
    image = Image.open(io.BytesIO(saved.read_bytes()))
    assert (image.format, image.size) == ("PNG", (300, 300))


def test_a_dead_link_shows_a_not_found_page(api: Api, page: Any, stack: Any):
    response = page.goto(f"{stack.api_url}/s/unknown.token")
    assert response.status == 404
    assert "does not exist" in page.locator("h1").inner_text()


def test_a_visitor_downloads_an_asset_of_a_shared_collection(api: Api, page: Any, shared_images: Path, tmp_path: Path):
    # Given a release's cover (an artwork upload) titled and made shared, and a link to the release's media
    upload = upload_photo(api, shared_images)
    artwork = wait_for_artwork(api, upload.subject, upload.release_id, ("ready", "failed"))
    assert artwork["status"] == "ready", artwork
    asset_id = upload.ticket["upload_id"]
    patched = api.http.patch(
        f"/media/{asset_id}",
        json={"title": "Night drive", "visibility": "shared"},
        headers=api.headers(upload.subject),
    )
    assert patched.status_code == 200, patched.text
    created = api.post(f"/owners/release/{upload.release_id}/share-links", {}, subject=upload.subject)
    assert created.status_code == 201, created.text
    # When a visitor opens the page
    page.goto(created.json()["url"])
    assert page.locator("h1").inner_text() == "Shared collection"
    assert page.locator("section.item h2").all_inner_texts() == ["Night drive"]
    # the preview really loads (a presigned GET of the 640 px variant)
    page.wait_for_function("document.querySelector('img').complete && document.querySelector('img').naturalWidth > 0")
    assert page.evaluate("document.querySelector('img').naturalWidth") == 640
    # and picks "small" as PNG and presses Download
    page.select_option("select[name=size]", "small")
    page.select_option("select[name=format]", "png")
    with page.expect_download() as info:
        page.click("button[type=submit]")
    download = info.value
    # Then the browser saves a 300×300 PNG named after the asset
    assert download.suggested_filename == "Night drive (small).png"
    saved = tmp_path / "asset.png"
    download.save_as(saved)
    image = Image.open(io.BytesIO(saved.read_bytes()))
    assert (image.format, image.size) == ("PNG", (300, 300))
