"""The local dev server (Chalice's local server, wrapped) answers errors as the packaged API does: one error shape,
404 for an unknown path at any depth, 405 with Allow, HEAD like GET without a body, nothing echoed back."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

import pytest

from tests.e2e.conftest import Api


def _raw(api: Api, request: bytes) -> bytes:
    """Send ``request`` bytes as they are (httpx would refuse to write them) and read the whole answer."""
    url = urlparse(str(api.http.base_url))
    with socket.create_connection((url.hostname, url.port), timeout=10) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("path", ["/nope", "/no/such/route", "/releases/r1/nope", "/s/t/download/more", "/"])
def test_unknown_paths_answer_404_in_the_error_shape(api, path):
    # Given a token carrying a marker, on a path no route serves
    headers = {"Authorization": "Bearer evil-marker"}
    # When the dev server answers
    response = api.http.get(path, headers=headers)
    # Then 404 not_found in the one shape, not API Gateway's 403 quoting the Authorization header
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert "evil" not in response.text and response.headers["X-Request-Id"]


def test_a_wrong_method_answers_405_with_allow(api):
    response = api.http.request("DELETE", "/releases", content=b"{}", headers={"Content-Type": "text/x-evil"})
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, POST, OPTIONS"
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "evil" not in response.text


def test_head_answers_like_get_without_a_body(api):
    get = api.get("/releases?limit=1")
    head = api.http.head("/releases?limit=1", headers=api.headers())
    assert (get.status_code, head.status_code) == (200, 200)
    assert head.content == b"" and head.headers["Content-Type"] == get.headers["Content-Type"]
    assert api.http.head("/health").status_code == 200
    assert api.http.head("/releases").status_code == 401


def test_deeply_nested_json_answers_400(api):
    response = api.http.post("/releases", content=b"[" * 50_000, headers=api.headers())
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"FROB /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 501, "not_implemented"),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: evil\r\n\r\n", 400, "invalid_request"),
        # A request line http.server cannot parse is answered as HTTP/0.9: a body without a status line or headers.
        (b"GET /health HTTP/1.1 evil\r\n\r\n", None, "invalid_request"),
    ],
)
def test_the_servers_own_errors_have_the_shape_and_echo_nothing(api, request_bytes, status, code):
    # Given a request http.server itself refuses (an unknown method, a bad Content-Length, a bad request line)
    # When it is sent as it is
    answer = _raw(api, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n") if status else (b"", b"", answer)
    # Then the status is right, the body is the one error shape, and nothing of the request comes back
    assert not status or head.split(b" ", 2)[1] == str(status).encode()
    assert f'"code": "{code}"'.encode() in body and b'"details": {}' in body
    assert b"evil" not in answer and b"FROB" not in answer
