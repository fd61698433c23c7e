"""The fake Replicate (chalicelib/local/fake_replicate): its documented API and faults through MockTransport, the signed
webhooks it queues, and the loopback server: a create whose webhook reaches a local receiver and verifies, the control
endpoints, and the command line's env file."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from chalicelib.local.fake_replicate import FakeReplicate, FakeReplicateServer
from chalicelib.local.fake_replicate.__main__ import main
from chalicelib.local.fake_replicate.fake import DEFAULT_TOKEN, DEFAULT_VERSION, DEFAULT_WEBHOOK_SECRET
from chalicelib.providers.webhooks import WebhookRejectedError, verify_webhook
from tests.unit.provider_support import Clock

API = "https://api.replicate.test/v1"
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
HOOK = "https://sleeve.test/webhooks/replicate?job_id=j1"


def png(width: int = 24, height: int = 16) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def client(fake: FakeReplicate) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(fake.handle), headers=AUTH)


def create(http: httpx.Client, **body: Any) -> httpx.Response:
    payload = {"version": DEFAULT_VERSION, "input": {"image": "https://in.test/x.png", "scale": 4}, **body}
    return http.post(f"{API}/predictions", json=payload)


def run_to_end(fake: FakeReplicate, **body: Any) -> tuple[httpx.Client, dict[str, Any]]:
    http = client(fake)
    prediction = create(http, webhook=HOOK, webhook_events_filter=["completed"], **body).json()
    for _ in range(2):
        prediction = http.get(f"{API}/predictions/{prediction['id']}").json()
    return http, prediction


# -- the API through MockTransport -------------------------------------------------------------------------------------


def test_create_answers_201_starting_with_the_documented_fields() -> None:
    # Given the fake
    fake = FakeReplicate(fetch=lambda url: png())

    # When a prediction is created
    response = create(client(fake), webhook=HOOK, webhook_events_filter=["completed"])

    # Then it is 201, starting, with urls.get/cancel on the API and created_at in ISO 8601
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "starting" and body["output"] is None and body["error"] is None
    assert body["urls"]["get"] == f"{API}/predictions/{body['id']}"
    assert body["urls"]["cancel"] == f"{API}/predictions/{body['id']}/cancel"
    assert body["created_at"].endswith("Z") and len(body["id"]) == 26
    assert body["input"] == {"image": "https://in.test/x.png", "scale": 4}


def test_the_model_names_its_latest_version() -> None:
    body = client(FakeReplicate()).get(f"{API}/models/nightmareai/real-esrgan").json()

    assert body["latest_version"]["id"] == DEFAULT_VERSION


def test_gets_advance_starting_processing_succeeded_with_a_real_upscaled_png() -> None:
    # Given a created prediction on a fake advancing one step per GET
    fake = FakeReplicate(fetch=lambda url: png(24, 16))
    http = client(fake)
    prediction_id = create(http).json()["id"]

    # When it is read twice
    statuses = [http.get(f"{API}/predictions/{prediction_id}").json() for _ in range(2)]

    # Then it was processing then succeeded, and its output is the input ×4 as a PNG
    assert [s["status"] for s in statuses] == ["processing", "succeeded"]
    assert statuses[-1]["completed_at"] and statuses[-1]["metrics"]["predict_time"] >= 0
    output = http.get(statuses[-1]["output"])
    assert output.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(output.content)).size == (96, 64)


def test_elapsed_time_advances_predictions_without_polling() -> None:
    # Given a fake advancing one step per second on a test clock, and no GET at all
    clock = Clock(1000.0)
    fake = FakeReplicate(fetch=lambda url: png(), gets_per_step=None, seconds_per_step=1.0, clock=clock)
    create(client(fake), webhook=HOOK)

    # When time passes
    clock.now += 1.0
    assert fake.tick() == 0
    clock.now += 1.0
    completed = fake.tick()

    # Then it completed, and its webhook was queued
    assert completed == 1
    assert fake.predictions()[0]["status"] == "succeeded"
    assert len(fake.deliver_webhooks()) == 1


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"Authorization": "Bearer wrong"}, {"version": DEFAULT_VERSION, "input": {"image": "x"}}, 401),
        ({}, {"version": DEFAULT_VERSION, "input": {"image": "x"}}, 401),
        (AUTH, {"version": "0" * 64, "input": {"image": "x"}}, 422),
        (AUTH, {"version": DEFAULT_VERSION, "input": {}}, 422),
        (AUTH, {"version": DEFAULT_VERSION, "input": {"image": "x"}, "webhook_events_filter": ["done"]}, 422),
    ],
)
def test_wrong_tokens_and_bad_bodies_are_refused_like_replicate(
    headers: dict[str, str], body: dict[str, Any], status: int
) -> None:
    http = httpx.Client(transport=httpx.MockTransport(FakeReplicate().handle), headers=headers)

    response = http.post(f"{API}/predictions", json=body)

    assert response.status_code == status
    assert "detail" in response.json()


def test_the_request_log_never_holds_the_token() -> None:
    fake = FakeReplicate(fetch=lambda url: png())
    create(client(fake))

    (recorded,) = fake.recorded()

    assert (recorded.method, recorded.path, recorded.authorization_sent) == ("POST", "/v1/predictions", True)
    assert DEFAULT_TOKEN not in repr(fake.recorded())


def test_cancel_ends_an_open_prediction_canceled_and_sends_its_webhook() -> None:
    fake = FakeReplicate(fetch=lambda url: png())
    http = client(fake)
    prediction_id = create(http, webhook=HOOK).json()["id"]

    canceled = http.post(f"{API}/predictions/{prediction_id}/cancel").json()

    assert canceled["status"] == "canceled"
    (delivery,) = fake.deliver_webhooks()
    assert json.loads(delivery.content)["status"] == "canceled"


# -- webhooks and faults ----------------------------------------------------------------------------------------------


def verify(request: httpx.Request, *, now: float | None = None) -> str:
    return verify_webhook(
        request.headers, request.content, secret=DEFAULT_WEBHOOK_SECRET, tolerance_s=300, now=now or time.time()
    )


def test_a_completed_prediction_sends_one_signed_webhook_with_the_prediction() -> None:
    # Given a prediction run to the end with a webhook
    fake = FakeReplicate(fetch=lambda url: png())
    _, final = run_to_end(fake)

    # When the queued webhooks are delivered
    (delivery,) = fake.deliver_webhooks()

    # Then it is POSTed to the webhook URL, verifies with the configured secret, and carries the final prediction
    assert (delivery.method, str(delivery.url)) == ("POST", HOOK)
    assert verify(delivery).startswith("msg_")
    assert json.loads(delivery.content) == final
    assert fake.deliver_webhooks() == []


@pytest.mark.parametrize(
    "fault",
    ["bad_signature", "stale_timestamp"],
    ids=["bad_signature signs with another key", "stale_timestamp stamps ten minutes ago"],
)
def test_a_signature_fault_makes_the_webhook_fail_verification_for_that_reason(fault: str) -> None:
    fake = FakeReplicate(fetch=lambda url: png())
    fake.set_faults(**{fault: True})
    run_to_end(fake)

    (delivery,) = fake.deliver_webhooks()

    with pytest.raises(WebhookRejectedError) as caught:
        verify(delivery)
    assert caught.value.reason == fault


def test_the_replay_fault_delivers_the_same_webhook_id_twice() -> None:
    fake = FakeReplicate(fetch=lambda url: png())
    fake.set_faults(replay=True)
    run_to_end(fake)

    first, second = fake.deliver_webhooks()

    assert verify(first) == verify(second)
    assert first.content == second.content


def test_the_no_webhook_fault_sends_none() -> None:
    fake = FakeReplicate(fetch=lambda url: png())
    fake.set_faults(no_webhook=True)
    _, final = run_to_end(fake)

    assert final["status"] == "succeeded"
    assert fake.deliver_webhooks() == []


def test_the_fail_fault_ends_the_prediction_failed_with_its_message() -> None:
    fake = FakeReplicate(fetch=lambda url: png())
    fake.set_faults(fail_with="CUDA out of memory")

    _, final = run_to_end(fake)

    assert (final["status"], final["error"], final["output"]) == ("failed", "CUDA out of memory", None)


def test_an_input_that_is_not_an_image_fails_the_prediction() -> None:
    _, final = run_to_end(FakeReplicate(fetch=lambda url: b"<html>nope</html>"))

    assert final["status"] == "failed" and "cannot identify image" in final["error"]


def test_the_output_faults_serve_a_large_body_or_html() -> None:
    # Given one prediction with an oversized output and one whose output is not an image
    large = FakeReplicate(fetch=lambda url: png())
    large.set_faults(output_too_large_bytes=3_000_000)
    html = FakeReplicate(fetch=lambda url: png())
    html.set_faults(output_not_image=True)

    # When both run to the end and their outputs are read
    http_large, final_large = run_to_end(large)
    http_html, final_html = run_to_end(html)

    # Then the first is 3 MB starting as a PNG, the second is HTML
    body = http_large.get(final_large["output"]).content
    assert len(body) == 3_000_000 and body.startswith(b"\x89PNG")
    assert http_html.get(final_html["output"]).content.startswith(b"<html>")


def test_the_rate_limit_fault_answers_429_with_retry_after_n_times() -> None:
    fake = FakeReplicate(fetch=lambda url: png())
    fake.set_faults(rate_limit_creates=2, retry_after_s=7)
    http = client(fake)

    statuses = [create(http) for _ in range(3)]

    assert [r.status_code for r in statuses] == [429, 429, 201]
    assert statuses[0].headers["retry-after"] == "7"
    assert statuses[0].json()["detail"].startswith("Request was throttled")


# -- the loopback server ----------------------------------------------------------------------------------------------


class Receiver:
    """A loopback server that serves the input image at /input.png and records webhook POSTs to /hook."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = png(20, 10)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append((dict(self.headers.items()), body))
                receiver.arrived.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture
def server() -> Iterator[FakeReplicateServer]:
    with FakeReplicateServer(FakeReplicate(gets_per_step=None, seconds_per_step=0.05)) as running:
        yield running


def test_the_server_sends_a_verifiable_webhook_to_a_local_receiver(
    server: FakeReplicateServer, receiver: Receiver
) -> None:
    # Given the fake server advancing by time, and a receiver that also serves the input image
    http = httpx.Client(base_url=f"{server.url}/v1", headers=AUTH)
    body = {
        "version": DEFAULT_VERSION,
        "input": {"image": f"{receiver.url}/input.png", "scale": 4, "face_enhance": False},
        "webhook": f"{receiver.url}/hook?job_id=j1",
        "webhook_events_filter": ["completed"],
    }

    # When a prediction is created and its webhook awaited
    created = http.post("/predictions", json=body)
    assert created.status_code == 201
    assert receiver.arrived.wait(10), "no webhook arrived"

    # Then the delivery verifies with the configured secret and names the succeeded prediction
    headers, raw = receiver.received[0]
    assert verify_webhook(headers, raw, secret=DEFAULT_WEBHOOK_SECRET, tolerance_s=300, now=time.time())
    prediction = json.loads(raw)
    assert (prediction["id"], prediction["status"]) == (created.json()["id"], "succeeded")
    # And the output is served over loopback as the input ×4
    output = httpx.get(prediction["output"])
    assert Image.open(io.BytesIO(output.content)).size == (80, 40)
    deliveries = httpx.get(f"{server.url}/_fake/webhooks").json()["deliveries"]
    assert [d["status"] for d in deliveries] == [204]


def test_the_control_endpoints_set_faults_progress_and_read_the_logs(server: FakeReplicateServer) -> None:
    base = server.url
    http = httpx.Client(base_url=f"{base}/v1", headers=AUTH)

    # When faults are set over HTTP (and a bad body is refused)
    assert httpx.post(f"{base}/_fake/faults", json={"rate_limit_creates": 1, "retry_after_s": 2}).status_code == 204
    refused = httpx.post(f"{base}/_fake/faults", json={"explode": True})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_request"
    assert httpx.put(f"{base}/_fake/progress", json={"gets_per_step": 1, "seconds_per_step": None}).status_code == 204

    # Then the next create is throttled, the one after is not, and the logs show both without the token
    body = {"version": DEFAULT_VERSION, "input": {"image": "http://127.0.0.1:9/x.png"}}
    assert http.post("/predictions", json=body).status_code == 429
    assert http.post("/predictions", json=body).status_code == 201
    requests = httpx.get(f"{base}/_fake/requests").json()["requests"]
    assert [(r["method"], r["path"]) for r in requests] == [("POST", "/v1/predictions")] * 2
    assert DEFAULT_TOKEN not in json.dumps(requests)
    assert len(httpx.get(f"{base}/_fake/predictions").json()["predictions"]) == 1
    assert httpx.delete(f"{base}/_fake/requests").status_code == 204
    assert httpx.delete(f"{base}/_fake/faults").status_code == 204
    assert httpx.get(f"{base}/_fake/requests").json() == {"requests": []}
    env = httpx.get(f"{base}/_fake/env").json()
    assert env["SLEEVE_REPLICATE_API_URL"] == f"{base}/v1"
    assert env["SLEEVE_REPLICATE_OUTPUT_ALLOW_HTTP"] == "true"


def test_the_command_line_serves_and_writes_the_settings(tmp_path: Path) -> None:
    # Given the command line on a free port with an env file
    env_file = tmp_path / "replicate.env"
    stop = threading.Event()
    thread = threading.Thread(target=main, args=(["--port", "0", "--env-file", str(env_file)],), kwargs={"stop": stop})
    thread.start()
    try:
        deadline = time.monotonic() + 10
        lines = ""
        while "OUTPUT_ALLOW_HTTP" not in lines and time.monotonic() < deadline:
            time.sleep(0.02)
            lines = env_file.read_text() if env_file.exists() else ""
    finally:
        stop.set()
        thread.join(timeout=10)

    # Then it wrote the SLEEVE_REPLICATE_* settings, private to the user
    names = {line.split("=", 1)[0].removeprefix("export ") for line in lines.splitlines()}
    assert {
        "SLEEVE_REPLICATE_API_URL",
        "SLEEVE_REPLICATE_API_TOKEN",
        "SLEEVE_REPLICATE_WEBHOOK_SECRET",
        "SLEEVE_REPLICATE_OUTPUT_ALLOW_HTTP",
    } <= names
    assert "whsec_" in lines
    assert env_file.stat().st_mode & 0o777 == 0o600
