"""No 500 on bad input: deeply nested JSON on every route, control and bidi characters in text fields, one error
shape for unknown routes and methods, HEAD on GET routes, nothing echoed back from a request header."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from typing import Any

import boto3
import chalice.local
import pytest
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib.api.contract import OPERATIONS
from chalicelib.api.fallback import is_fallback
from chalicelib.container import reset_container
from chalicelib.local.devserver import GreedyRouteMatcher
from tests.conftest import REPO_ROOT
from tests.integration.conftest import TEST_ENV, auth, body_of, call, create_release, provision_local

# Every (path, method) of the app, fallbacks included: a route added later is covered without touching this file.
ROUTES = sorted((path, method) for path, entries in app.routes.items() for method in entries)
BODY_METHODS = {"POST", "PUT", "PATCH"}
DEEP = b"[" * 50_000


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """One provisioned moto and one chalice.test.Client for the whole module (the route table makes ~150 cases; these
    tests only add a release of their own). Its gateway routes greedy ``{proxy+}`` paths as API Gateway does, which
    Chalice's emulation cannot (``chalicelib.local.devserver.GreedyRouteMatcher``, also used by the dev server)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("SLEEVE_")]:
            patch.delenv(name)
        for name, value in TEST_ENV.items():
            patch.setenv(name, value)
        patch.setattr(chalice.local, "RouteMatcher", GreedyRouteMatcher)
        with mock_aws():
            provision_local(boto3.Session(region_name="us-east-1"))
            reset_container()
            with Client(app, stage_name="test", project_dir=str(REPO_ROOT)) as test_client:
                yield test_client
        reset_container()


@pytest.fixture(scope="module")
def ids(client: Client) -> dict[str, str]:
    """Real ids for every path parameter, so a route reaches its own code rather than a 404 on the release. Shared by
    the module: the deep-JSON cases DELETE them (a DELETE reads no body), so tests that need them alive use
    ``fresh``."""
    release = create_release(client)
    track = body_of(call(client, "POST", f"/releases/{release['id']}/tracks", {"title": "Hunter"}))
    collaborator = body_of(
        call(client, "POST", f"/releases/{release['id']}/collaborators", {"role": "writer", "name": "Björk"})
    )
    return {
        "release_id": release["id"],
        "track_id": track["id"],
        "collaborator_id": collaborator["id"],
        "upload_id": "u" * 32,
        "token_id": "t" * 12,
        "token": "t" * 12 + "." + "s" * 43,
        "conflict_id": "c" * 24,
        "job_id": "0" * 32,
        "asset_id": body_of(call(client, "POST", "/media", {"title": "Deep"}))["id"],
        "attachment_id": "a" * 32,
        "owner_type": "scene",
        "owner_id": "act1-scene3",
        "proxy+": "no/such/route",
    }


@pytest.fixture
def fresh(client: Client) -> dict[str, str]:
    """A release of alice's with one track, for one test."""
    release = create_release(client)
    track = body_of(call(client, "POST", f"/releases/{release['id']}/tracks", {"title": "Hunter"}))
    return {"release_id": release["id"], "track_id": track["id"]}


def _concrete(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"{([^}]+)}", lambda m: ids[m.group(1)], path)


def _assert_error_shape(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.body
    body = body_of(response)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    return body


@pytest.mark.parametrize(("path", "method"), ROUTES, ids=[f"{m} {p}" for p, m in ROUTES])
def test_deeply_nested_json_never_answers_500(client, ids, path, method):
    # Given 50,000 nested arrays as the body
    entry = app.routes[path][method]
    # When any route of the app receives it
    response = call(client, method, _concrete(path, ids), DEEP)
    # Then a route that reads a body refuses it with 400 invalid_json, and no route answers 500 (a write that takes no
    # body, such as POST /releases/{id}/sync, ignores it)
    assert response.status_code < 500, response.body
    operation = OPERATIONS.get((method, path))
    if method in BODY_METHODS and not is_fallback(entry.view_name) and operation and operation.body is not None:
        _assert_error_shape(response, 400, "invalid_json")


def test_nesting_below_the_recursion_limit_is_refused_too(client):
    # Given a valid JSON body nested 100 levels deep, which Python parses without trouble
    body = {"title": "x", "display_artist": "y", "description": json.loads("[" * 100 + "]" * 100)}
    # When it is sent
    response = call(client, "POST", "/releases", body)
    # Then it is refused by depth before validation
    _assert_error_shape(response, 400, "invalid_json")
    assert body_of(response)["error"]["details"] == {"max_depth": 32}


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/releases", {"title": "cover\u202egpj.exe", "display_artist": "x"}, "title"),
        ("POST", "/releases", {"title": "x", "display_artist": "Bj\x00rk"}, "display_artist"),
        ("POST", "/releases", {"title": "x", "display_artist": "y", "label": "One Little\u2066Indian"}, "label"),
        ("POST", "/releases", {"title": "x", "display_artist": "y", "description": "a\x1b[31mred"}, "description"),
        ("PATCH", "/releases/{release_id}", {"p_line": "\u202d2026 Label"}, "p_line"),
        ("POST", "/releases/{release_id}/tracks", {"title": "Hunter\x7f"}, "title"),
        ("PATCH", "/releases/{release_id}/tracks/{track_id}", {"production_notes": "ok\u202e"}, "production_notes"),
        ("POST", "/releases/{release_id}/collaborators", {"role": "writer", "name": "Mark\u2067Bell"}, "name"),
        (
            "POST",
            "/releases/{release_id}/artwork/uploads",
            {"content_type": "image/png", "content_length": 10, "filename": "cover\u202egnp.exe"},
            "filename",
        ),
        ("POST", "/releases/{release_id}/transition", {"to": "recording", "reason": "why\n"}, "reason"),
        ("PUT", "/releases/{release_id}/tracks/order", {"track_ids": ["a\u202eb"]}, "track_ids.0"),
    ],
)
def test_text_fields_refuse_controls_and_bidi_overrides(client, fresh, method, path, body, field):
    ids = fresh
    # Given a text field holding a control character or a bidirectional override
    # When it is sent to its route
    response = call(client, method, _concrete(path, ids), body)
    # Then 422 invalid_characters names the field, and the code point, never the raw character
    error = _assert_error_shape(response, 422, "invalid_characters")["error"]
    assert field in error["details"]["fields"], error
    assert "U+" in error["details"]["fields"][field]
    assert not re.search("[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]", response.body.decode())


def test_newlines_and_tabs_are_kept_where_documented(client, fresh):
    ids = fresh
    # Given a description and production notes with newlines and a tab
    text = "Recorded in Reykjavík.\n\tMixed in London.\r\n"
    # When they are written
    release = call(client, "PATCH", f"/releases/{ids['release_id']}", {"description": text})
    track = call(client, "PATCH", f"/releases/{ids['release_id']}/tracks/{ids['track_id']}", {"production_notes": text})
    # Then they are accepted (surrounding white space stripped, as for every field)
    assert release.status_code == 200 and body_of(release)["description"] == text.strip()
    assert track.status_code == 200 and body_of(track)["production_notes"] == text.strip()


@pytest.mark.parametrize("path", ["/", "/nope", "/releases/x/nope", "/s/a/b/c/d", "/releases/x/tracks/y/z", "/health/"])
@pytest.mark.parametrize("token", [True, False])
def test_unknown_paths_answer_404_in_the_error_shape(client, path, token):
    # Given a path no route serves (with and without a token)
    headers = auth() if token else {}
    # When it is requested
    response = client.http.request("GET", path, headers=headers)
    # Then 404 not_found, in the one shape (API Gateway's emulation would answer 403 and quote the token)
    if path == "/health/":  # API Gateway drops a trailing slash: this is /health
        assert response.status_code == 200
        return
    _assert_error_shape(response, 404, "not_found")
    assert "Bearer" not in response.body.decode()


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/health", "GET, HEAD, OPTIONS"),
        ("PUT", "/releases", "GET, HEAD, POST, OPTIONS"),
        ("DELETE", "/releases/r1/tracks/order", "PUT, OPTIONS"),
        ("HEAD", "/releases/r1/transition", "POST, OPTIONS"),
        ("PATCH", "/s/t1/download", "GET, HEAD, OPTIONS"),
    ],
)
def test_a_wrong_method_answers_405_with_allow(client, method, path, allow):
    # Given a known path and a method it does not serve, with an odd Content-Type and no token
    headers = {"Content-Type": "text/plain; evil=<script>"}
    # When it is requested
    response = client.http.request(method, path, headers=headers, body=b"x")
    # Then 405 method_not_allowed, Allow lists what the path serves, and (HEAD aside) the body has the one shape
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    if method == "HEAD":
        assert response.body == b""
    else:
        assert body_of(response)["error"]["details"]["allow"] == allow.split(", ")
        _assert_error_shape(response, 405, "method_not_allowed")


def test_head_answers_like_get_without_a_body(client, fresh):
    ids = fresh
    # Given a release and its GET
    path = f"/releases/{ids['release_id']}"
    get = call(client, "GET", path)
    # When the same path is asked with HEAD
    head = call(client, "HEAD", path)
    # Then the status and headers are the GET's, and there is no body
    assert (head.status_code, head.body) == (200, b"")
    for name in ("ETag", "Content-Type", "Access-Control-Allow-Origin"):
        assert head.headers[name] == get.headers[name]
    # And a HEAD without a token answers 401 like the GET, still without a body
    anonymous = client.http.request("HEAD", path)
    assert (anonymous.status_code, anonymous.body) == (401, b"")
    assert client.http.request("HEAD", "/health").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/releases", {**auth(), "Content-Type": "text/evil-<script>"}),
        ("POST", "/releases", {**auth(), "Content-Type": "application/json; evil=<script>"}),
        ("GET", "/releases", {"Authorization": "Basic evil-<script>"}),
        ("GET", "/releases", {"Authorization": "Bearer evil-<script>"}),
        ("GET", "/no/such/evil-route", {"Authorization": "Bearer evil-<script>"}),
        ("GET", "/health", {"Origin": "https://evil-<script>.example", "X-Request-Id": "evil-<script>"}),
    ],
)
def test_no_header_value_is_echoed(client, method, path, headers):
    # Given a request whose header values carry a marker
    # When it is answered (an error or not)
    response = client.http.request(method, path, headers=headers, body=b"{}")
    # Then the marker appears nowhere in the answer: not in the body, not in a header
    assert response.status_code < 500
    assert "evil" not in response.body.decode()
    assert not any("evil" in f"{k}: {v}" for k, v in response.headers.items()), response.headers


def test_every_response_carries_a_generated_request_id(client):
    first = client.http.request("GET", "/health")
    second = client.http.request("GET", "/releases")
    ids = {first.headers["X-Request-Id"], second.headers["X-Request-Id"]}
    assert len(ids) == 2 and all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in ids)


def _unsigned(key: dict[str, Any]) -> str:
    # What a client could forge before cursors were signed: base64url JSON of a DynamoDB key of its choosing.
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


@pytest.fixture
def pages(client: Client) -> dict[str, Any]:
    """carol's three releases (two moved to ``recording``) and the first page of each of her lists."""
    releases = [create_release(client, subject="carol", title=f"R{i}") for i in range(3)]
    for release in releases[:2]:
        moved = call(client, "POST", f"/releases/{release['id']}/transition", {"to": "recording"}, subject="carol")
        assert moved.status_code == 200, moved.body
    newest = releases[-1]["id"]
    return {
        "newest": newest,
        "releases": body_of(call(client, "GET", "/releases?limit=1", subject="carol"))["next_cursor"],
        "recording": body_of(call(client, "GET", "/releases?status=recording&limit=1", subject="carol"))["next_cursor"],
        "history": body_of(call(client, "GET", f"/releases/{releases[0]['id']}/history?limit=1", subject="carol"))[
            "next_cursor"
        ],
    }


def test_cursors_page_their_own_list(client, pages):
    assert all(pages[name] for name in ("releases", "recording", "history"))
    for path in ("/releases?limit=1&cursor={releases}", "/releases?status=recording&limit=1&cursor={recording}"):
        response = call(client, "GET", path.format(**pages), subject="carol")
        assert response.status_code == 200 and len(body_of(response)["items"]) == 1


@pytest.mark.parametrize(
    ("case", "path", "subject"),
    [
        ("another owner's", "/releases?cursor={releases}", "dave"),
        ("truncated", "/releases?cursor={releases_truncated}", "carol"),
        ("MAC flipped", "/releases?cursor={releases_flipped}", "carol"),
        ("forged, unsigned", "/releases?cursor={forged}", "carol"),
        ("re-shaped, unsigned", "/releases?cursor={reshaped}", "carol"),
        ("the releases list's, on the status list", "/releases?status=recording&cursor={releases}", "carol"),
        ("status=recording's, on status=draft", "/releases?status=draft&cursor={recording}", "carol"),
        ("the status list's, on the releases list", "/releases?cursor={recording}", "carol"),
        ("the releases list's, on the history", "/releases/{newest}/history?cursor={releases}", "carol"),
        ("the history's, on the releases list", "/releases?cursor={history}", "carol"),
    ],
)
def test_foreign_or_tampered_cursors_answer_400(client, pages, case, path, subject):
    # Given a cursor that is not the one this list issued to this caller
    values = {
        **pages,
        "releases_truncated": pages["releases"][:-3],
        # A character inside the MAC: the last one of its base64url also holds padding bits a decoder ignores.
        "releases_flipped": pages["releases"][:-5]
        + ("A" if pages["releases"][-5] != "A" else "B")
        + pages["releases"][-4:],
        "forged": _unsigned(
            {
                "gsi1pk": {"S": "OWNER#carol#RELEASES"},
                "gsi1sk": {"S": "9999"},
                "pk": {"S": "RELEASE#x"},
                "sk": {"S": "RELEASE"},
            }
        ),
        "reshaped": _unsigned({"gsi1pk": {"S": "OWNER#carol#RELEASES"}, "gsi1sk": {"N": "x"}, "extra": [1]}),
    }
    # When it is used
    response = call(client, "GET", path.format(**values), subject=subject)
    # Then 400 invalid_cursor, never a 500 from a key DynamoDB refuses, never someone else's page
    _assert_error_shape(response, 400, "invalid_cursor")


def test_a_token_error_never_quotes_the_token(client, monkeypatch):
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    import chalicelib.container
    from chalicelib.auth import CognitoTokenVerifier

    # Given Cognito verification with the pool's key set (one key), and a token naming a key id that carries a marker
    def key() -> Any:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key().public_key()))
    keys = jwt.PyJWKClient("https://cognito-idp.us-east-1.amazonaws.com/pool/.well-known/jwks.json")
    monkeypatch.setattr(keys, "fetch_data", lambda: {"keys": [{**public, "kid": "pool-key", "alg": "RS256"}]})
    verifier = CognitoTokenVerifier(region="us-east-1", user_pool_id="pool", app_client_id="app", jwk_client=keys)
    monkeypatch.setattr(chalicelib.container, "get_token_verifier", lambda: verifier)
    token = jwt.encode({"sub": "x"}, key(), algorithm="RS256", headers={"kid": "evil-<script>"})
    # When it is sent
    response = client.http.request("GET", "/releases", headers={"Authorization": f"Bearer {token}"})
    # Then 401 invalid_token says why in a fixed word, and quotes nothing of the token (PyJWT's message would)
    error = _assert_error_shape(response, 401, "invalid_token")["error"]
    assert error["details"] == {"reason": "unknown_signing_key"}
    assert "evil" not in response.body.decode()
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="sleeve"'
