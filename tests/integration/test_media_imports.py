"""URL imports on moto: ``POST /media/imports`` → the imports queue → ``handle_import`` (the SSRF guard, a real
``http.server`` on 127.0.0.1 as the target) → the bytes PUT at the asset's upload key → the real ``handle_ingest`` →
a ready asset with source ``import`` and its ``source_url``. The loopback server is refused with the production
settings (at the API, before anything is written) and fetched with ``import_allow_private``/``import_allow_http``; the
worker checks again at connect time; every refusal ends the asset ``failed`` with its code; the dead-letter consumer
fails it; ``album_art_of`` fills the album art of the owner's asset only."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from chalice.test import Client
from PIL import Image

from chalicelib.config import stage_resource_name
from chalicelib.container import get_asset_repository, get_import_service, reset_container
from chalicelib.models.domain import Asset
from chalicelib.models.media import AlbumArt, LibraryFields
from chalicelib.providers import url_fetch
from chalicelib.services.storage_keys import upload_key
from tests.integration.conftest import BUCKET, STAGE, TABLE, Aws, body_of, call, create_release, run_ingest
from tests.integration.sync_helpers import receive_messages, sqs_event

IMPORTS_QUEUE = stage_resource_name(STAGE, "imports")
IMPORTS_DLQ = stage_resource_name(STAGE, "imports-dlq")


def png(width: int = 320, height: int = 240) -> bytes:
    out = io.BytesIO()
    # Noise: a PNG of some size (a flat colour compresses to a few hundred bytes).
    Image.effect_noise((width, height), 60).convert("RGB").save(out, format="PNG")
    return out.getvalue()


class Target:
    """A real ``http.server`` on 127.0.0.1: ``routes`` path → (status, headers, body); ``seen`` the paths asked."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {"/cover.png": (200, {}, png())}
        self.seen: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.seen.append(self.path)
                status, headers, body = owner.routes.get(self.path, (404, {}, b"no"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, path: str = "/cover.png", host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.server.server_address[1]}{path}"


@pytest.fixture
def target() -> Iterator[Target]:
    served = Target()
    yield served
    served.server.shutdown()
    served.server.server_close()


def local_rules(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    """The local stack's import rules (http and private addresses allowed), plus ``env`` (``SLEEVE_`` names)."""
    monkeypatch.setenv("SLEEVE_IMPORT_ALLOW_HTTP", "true")
    monkeypatch.setenv("SLEEVE_IMPORT_ALLOW_PRIVATE", "true")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_container()


def start_import(client: Client, url: str, *, subject: str = "alice", **fields: Any) -> dict[str, Any]:
    response = call(client, "POST", "/media/imports", {"source_url": url, **fields}, subject=subject)
    assert response.status_code == 202, response.body
    view: dict[str, Any] = body_of(response)
    return view


def run_imports(client: Client) -> list[dict[str, Any]]:
    """Deliver every waiting imports message to ``handle_import`` (one Lambda SQS event each); their bodies."""
    messages = receive_messages(IMPORTS_QUEUE)
    for message in messages:
        client.lambda_.invoke("handle_import", sqs_event([message], IMPORTS_QUEUE))
    return [json.loads(message["Body"]) for message in messages]


def asset(asset_id: str) -> Asset:
    found = get_asset_repository().get(asset_id)
    assert found is not None
    return found


def asset_items() -> list[dict[str, Any]]:
    items = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=TABLE)["Items"]
    return [item for item in items if item["pk"]["S"].startswith("ASSET#")]


def imported(client: Client, aws: Aws, url: str, **fields: Any) -> Asset:
    """An import of ``url`` taken through the API, the imports worker and the ingest worker."""
    view = start_import(client, url, **fields)
    run_imports(client)
    run_ingest(client, aws)
    return asset(view["id"])


# -- the production settings --------------------------------------------------------------------------------------


def test_a_loopback_server_is_refused_with_the_production_settings(
    client: Client, aws: Aws, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a real server on 127.0.0.1 serving a PNG, and the production rules (no SLEEVE_IMPORT_ALLOW_*)
    # And a public-looking name that resolves to loopback (the guard's resolver replaced, never the network)
    monkeypatch.setattr(url_fetch, "resolve_host", lambda host, port: ["127.0.0.1"])
    cases = [
        (target.url(), "scheme"),
        (target.url(scheme="https"), "loopback"),
        (target.url(host="[::ffff:127.0.0.1]", scheme="https"), "loopback"),
        (target.url(host="covers.example.com", scheme="https"), "loopback"),
        ("https://169.254.169.254/latest/meta-data/", "link_local"),
        ("https://[64:ff9b::a9fe:a9fe]/", "link_local"),
        ("https://100.64.1.1/cover.png", "cgnat"),
        ("https://[fd00::1]/cover.png", "unique_local"),
    ]
    for url, reason in cases:
        # When alice asks to import it
        response = call(client, "POST", "/media/imports", {"source_url": url})
        # Then 422 url_not_allowed names the reason
        assert response.status_code == 422, (url, response.body)
        error = body_of(response)["error"]
        assert (error["code"], error["details"]["reason"]) == ("url_not_allowed", reason), url
    # And nothing was written or queued, and the server never saw a request
    assert asset_items() == []
    assert receive_messages(IMPORTS_QUEUE) == []
    assert target.seen == []


# -- the local settings: end to end -------------------------------------------------------------------------------


def test_with_allow_private_and_allow_http_a_loopback_image_becomes_a_ready_import(
    client: Client, aws: Aws, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the local stack's rules
    local_rules(monkeypatch)
    url = target.url()
    # When alice imports the loopback server's PNG with a title and tags
    view = start_import(client, url, title="Blue", tags=["press", "Press", "blue"])
    # Then the answer is the pending asset: source import, the source URL kept, the filename from the URL
    assert (view["status"], view["source"], view["source_url"], view["type"]) == ("pending", "import", url, "image")
    assert (view["title"], view["tags"], view["filename"]) == ("Blue", ["press", "blue"], "cover.png")
    # And the imports queue holds its run
    bodies = run_imports(client)
    assert bodies == [{"type": "import.run", "asset_id": view["id"]}]
    assert target.seen == ["/cover.png"]
    # When the S3 event brings the PUT bytes to the real ingest worker
    (notification,) = run_ingest(client, aws)
    assert f"uploads%2Falice%2F{view['id']}" in notification["Body"]
    # Then the asset is ready, made by the one ingest path, with its checksum
    done = asset(view["id"])
    assert done.status == "ready" and done.media is not None
    assert (done.media.original.width, done.media.original.height) == (320, 240)
    assert (done.source, done.source_url, done.owner_id) == ("import", url, "alice")
    assert done.checksum_sha256 is not None


def test_a_second_delivery_of_an_import_fetches_nothing_again(
    client: Client, aws: Aws, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an import whose message was run once
    local_rules(monkeypatch)
    view = start_import(client, target.url())
    (message,) = receive_messages(IMPORTS_QUEUE)
    client.lambda_.invoke("handle_import", sqs_event([message], IMPORTS_QUEUE))
    # When SQS delivers the same message again
    client.lambda_.invoke("handle_import", sqs_event([message], IMPORTS_QUEUE))
    # Then the server was asked once and one object reached ingest
    assert target.seen == ["/cover.png"]
    assert len(run_ingest(client, aws)) == 1
    assert asset(view["id"]).status == "ready"


# -- refusals at the worker end the asset failed ------------------------------------------------------------------


def test_the_worker_checks_the_address_again_when_it_connects(
    client: Client, aws: Aws, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given http allowed but not private addresses, and a name that resolves to a public address when the API checks
    # it and to loopback when the worker connects (DNS rebinding)
    local_rules(monkeypatch, SLEEVE_IMPORT_ALLOW_PRIVATE="false")
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    monkeypatch.setattr(url_fetch, "resolve_host", lambda host, port: next(answers))
    # When alice imports it and the worker runs
    done = imported(client, aws, target.url(host="rebind.example.com"))
    # Then the asset failed url_not_allowed, and the server never saw a request
    assert done.status == "failed" and done.error is not None
    assert done.error.code == "url_not_allowed"
    assert target.seen == []


@pytest.mark.parametrize(
    ("route", "env", "code"),
    [
        ((200, {"Content-Type": "text/html"}, b"<html>not an image</html>"), {}, "not_an_image"),
        ((200, {"Content-Type": "image/svg+xml"}, b"<svg xmlns='http://www.w3.org/2000/svg'/>"), {}, "not_an_image"),
        ((200, {}, png()), {"SLEEVE_IMPORT_MAX_BYTES": "1000"}, "too_large"),
        ((302, {"Location": "/cover.png"}, b""), {"SLEEVE_IMPORT_MAX_REDIRECTS": "0"}, "too_many_redirects"),
        ((302, {"Location": "/start.png"}, b""), {}, "too_many_redirects"),
        ((500, {}, b"broken"), {}, "fetch_failed"),
    ],
)
def test_a_refused_fetch_ends_the_asset_failed_with_its_code(
    client: Client,
    aws: Aws,
    target: Target,
    monkeypatch: pytest.MonkeyPatch,
    route: tuple[int, dict[str, str], bytes],
    env: dict[str, str],
    code: str,
) -> None:
    # Given the local rules and a URL answering a non-image, an oversized body, a redirect or an error
    local_rules(monkeypatch, **env)
    target.routes["/start.png"] = route
    # When it is imported and the worker runs
    done = imported(client, aws, target.url("/start.png"))
    # Then the asset failed with the refusal's code and no bytes reached the upload key
    assert done.status == "failed" and done.error is not None
    assert done.error.code == code
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=upload_key("alice", done.id))


def test_a_redirect_to_the_metadata_address_ends_the_asset_failed(
    client: Client, aws: Aws, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the production address rule (http allowed), where 127.0.0.1 stands in for a public host, and that host
    # redirecting to the cloud metadata address
    local_rules(monkeypatch, SLEEVE_IMPORT_ALLOW_PRIVATE="false")
    real = url_fetch.address_refusal
    monkeypatch.setattr(url_fetch, "address_refusal", lambda a: None if str(a) == "127.0.0.1" else real(a))
    monkeypatch.setattr(url_fetch, "resolve_host", lambda host, port: ["127.0.0.1"])
    target.routes["/start.png"] = (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")
    # When it is imported
    done = imported(client, aws, target.url("/start.png", host="cdn.example.com"))
    # Then the redirect is refused and the asset failed url_not_allowed
    assert done.error is not None and done.error.code == "url_not_allowed"
    assert "link_local" in done.error.message
    assert target.seen == ["/start.png"]


def test_a_dead_lettered_import_ends_failed(
    client: Client, aws: Aws, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a pending import whose message failed every retry
    local_rules(monkeypatch)
    view = start_import(client, target.url())
    (message,) = receive_messages(IMPORTS_QUEUE)
    # When the dead-letter consumer receives it, and a malformed message
    client.lambda_.invoke("handle_import_dead_letter", sqs_event([message], IMPORTS_DLQ))
    client.lambda_.invoke("handle_import_dead_letter", sqs_event([{**message, "Body": "{not json"}], IMPORTS_DLQ))
    # Then the asset failed dead_lettered (the malformed one was dropped) and nothing was fetched
    done = asset(view["id"])
    assert done.status == "failed" and done.error is not None and done.error.code == "dead_lettered"
    assert target.seen == []


# -- album art and covers -----------------------------------------------------------------------------------------


def _metadata_asset(owner: str, asset_id: str, import_id: str, url: str) -> None:
    """The asset POST /media makes for album art (services/media.py): its album_art names the import at once."""
    get_asset_repository().create_pending(
        asset_id=asset_id,
        owner_id=owner,
        upload_key=upload_key(owner, asset_id),
        declared_content_type="",
        declared_bytes=0,
        max_bytes=0,
        filename=None,
        attach_to=None,
        library=LibraryFields(album_art=AlbumArt(source_url=url, source="iTunes", quality="High", asset_id=import_id)),
        status="ready",
    )


def test_an_album_art_import_fills_the_owners_asset_once_ready(
    client: Client, aws: Aws, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an import started for the album art of alice's asset
    local_rules(monkeypatch)
    url = target.url()
    started = get_import_service().start("alice", url, album_art_of="a" * 32)
    _metadata_asset("alice", "a" * 32, started.id, url)
    assert started.album_art_of == "a" * 32
    # When the import and its ingest run
    run_imports(client)
    run_ingest(client, aws)
    # Then the album art of alice's asset names the ready image with its type, bytes and size
    art = asset("a" * 32).album_art
    ready = asset(started.id)
    assert ready.status == "ready" and ready.media is not None and art is not None
    assert (art.asset_id, art.content_type, art.width, art.height) == (started.id, "image/png", 320, 240)
    assert art.bytes == ready.media.original.bytes
    assert (art.source_url, art.source, art.quality) == (url, "iTunes", "High")


def test_album_art_linking_stays_within_the_owner(
    client: Client, aws: Aws, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given alice's import naming bob's asset as the one whose album art it is (bob's album art even names it)
    local_rules(monkeypatch)
    url = target.url()
    started = get_import_service().start("alice", url, album_art_of="b" * 32)
    _metadata_asset("bob", "b" * 32, started.id, url)
    # When the import becomes ready
    run_imports(client)
    run_ingest(client, aws)
    # Then bob's asset is untouched and the hook says so
    assert asset(started.id).status == "ready"
    art = asset("b" * 32).album_art
    assert art is not None and (art.content_type, art.bytes, art.width) == (None, None, None)
    assert get_import_service().after_ingest(started.id) == "superseded"


def test_an_import_for_a_release_cover_becomes_the_cover(
    client: Client, aws: Aws, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a release and an import attached to it as its cover (the backfill's artwork_url imports)
    local_rules(monkeypatch)
    release = create_release(client)
    started = get_import_service().start("alice", target.url(), attach_to=f"RELEASE#{release['id']}#cover")
    # When it runs through the import and ingest workers
    run_imports(client)
    run_ingest(client, aws)
    # Then the release's artwork is the imported image
    artwork = body_of(call(client, "GET", f"/releases/{release['id']}/artwork"))
    assert asset(started.id).status == "ready"
    assert artwork["asset_id"] == started.id


# -- the request's fields -----------------------------------------------------------------------------------------


def test_an_import_takes_the_librarys_fields_and_a_generated_name(
    client: Client, aws: Aws, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the local rules
    local_rules(monkeypatch)
    # When alice imports a stock photo asking for a name, and another with only part of a name
    body = {"source": "stock", "layer": "L", "category": "cas", "subcategory": "atl", "creator_description": "Sea"}
    view = start_import(client, target.url(), **body)
    partial = call(client, "POST", "/media/imports", {"source_url": target.url(), "layer": "L"})
    # Then the first is a pending stock asset named L.CAS.ATL.001 with the creator's words verbatim
    assert (view["source"], view["name"], view["creator_description"]) == ("stock", "L.CAS.ATL.001", "Sea")
    # And the second is refused before anything is queued
    assert partial.status_code == 422 and body_of(partial)["error"]["code"] == "name_parts_incomplete"
    assert [json.loads(m["Body"])["asset_id"] for m in receive_messages(IMPORTS_QUEUE)] == [view["id"]]


def test_post_media_with_album_art_imports_it_and_links_it_once_ready(
    client: Client, aws: Aws, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the local rules and alice's metadata asset whose album art is at the loopback server
    local_rules(monkeypatch)
    url = target.url()
    album_art = {"source_url": url, "source": "iTunes", "quality": "High"}
    response = call(client, "POST", "/media", {"creator_description": "Night drive", "album_art": album_art})
    assert response.status_code == 201, response.body
    created = body_of(response)
    import_id = created["album_art"]["asset_id"]
    assert import_id and created["album_art"]["width"] is None
    # When the import and its ingest run
    run_imports(client)
    run_ingest(client, aws)
    # Then the metadata asset's album art names the ready import with its type, bytes and size
    art = body_of(call(client, "GET", f"/media/{created['id']}"))["album_art"]
    assert (art["asset_id"], art["content_type"], art["width"], art["height"]) == (import_id, "image/png", 320, 240)
    imported_view = body_of(call(client, "GET", f"/media/{import_id}"))
    assert (imported_view["status"], imported_view["source"], imported_view["source_url"]) == ("ready", "import", url)


def test_post_media_with_a_refused_album_art_url_writes_nothing(client: Client, aws: Aws, target: Target) -> None:
    # Given the production rules, When alice's album art points at the loopback server
    album_art = {"source_url": target.url(scheme="https"), "source": "Manual"}
    response = call(client, "POST", "/media", {"title": "x", "album_art": album_art})
    # Then 422 url_not_allowed, and neither the import nor the metadata asset exists
    assert response.status_code == 422
    assert body_of(response)["error"]["details"]["reason"] == "loopback"
    assert asset_items() == []
