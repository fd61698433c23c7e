"""``FakeReplicate``: Replicate's documented predictions API (https://replicate.com/docs/reference/http) answered from
memory, for ``httpx.MockTransport(fake.handle)`` in tests and the loopback ``FakeReplicateServer``.

Routes (under the API root ``/v1``, ``Authorization: Bearer <token>`` checked, 401 like Replicate when wrong):
``GET /v1/models/{owner}/{name}`` (``latest_version``), ``POST /v1/predictions`` (201, ``starting``, ``urls.get`` /
``urls.cancel``), ``POST /v1/models/{owner}/{name}/predictions`` (an official text-to-image model run by name,
``generate.GENERATE_MODELS``: its output is a list of one image URL, ``generate.generated_image``),
``GET /v1/predictions/{id}``, ``POST /v1/predictions/{id}/cancel``; output files at ``GET /_files/{name}`` (no
token: they stand for Replicate's file host).

A prediction goes ``starting`` → ``processing`` → ``succeeded`` | ``failed`` one step per ``gets_per_step`` GETs
and/or per ``seconds_per_step`` of elapsed time (``tick()``). On completion the output is made (the input fetched
and resized ×scale, ``outputs.upscale_png``) and, when the prediction has a ``webhook`` and asked for ``completed``,
a signed delivery is queued: ``deliver_webhooks()`` returns (and with ``send``, sends) them. Faults
(``FakeReplicateFaults``) are snapshotted by each prediction when it is created.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import httpx
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.local.fake_replicate import generate, outputs
from chalicelib.local.fake_replicate.outputs import iso, problem

DEFAULT_TOKEN = "r8_fake_replicate_token_for_local_use_only"
DEFAULT_WEBHOOK_SECRET = "whsec_ZmFrZS1yZXBsaWNhdGUtc2lnbmluZy1rZXktMzJi"
DEFAULT_MODEL = "nightmareai/real-esrgan"
DEFAULT_VERSION = "42fed1c4974146d4d2414e2be2c5277c7fcf05fcc3a73abf41610695738c1d7b"
WEBHOOK_EVENTS = frozenset({"start", "output", "logs", "completed"})
TERMINAL = frozenset({"succeeded", "failed", "canceled", "aborted"})
_PREDICTION = re.compile(r"/v1/predictions/([a-z0-9]+)(/cancel)?")
_MODEL = re.compile(r"/v1/models/([^/]+)/([^/]+)")
_MODEL_PREDICTIONS = re.compile(r"/v1/models/([^/]+)/([^/]+)/predictions")


class FakeReplicateFaults(BaseModel):
    """What goes wrong, for the predictions created from now on (``rate_limit_creates`` counts down at once).

    ``bad_signature``: webhooks signed with another key; ``stale_timestamp``: stamped 10 minutes ago; ``replay``:
    each webhook delivered twice with the same ``webhook-id``; ``no_webhook``: none sent (the poller path);
    ``fail_with``: the prediction ends ``failed`` with this ``error``; ``output_too_large_bytes``: the output file is
    that many bytes; ``output_not_image``: the output file is HTML; ``rate_limit_creates``: the next N creates answer
    429 with ``Retry-After: retry_after_s``.
    """

    model_config = ConfigDict(extra="forbid")

    bad_signature: bool = False
    stale_timestamp: bool = False
    replay: bool = False
    no_webhook: bool = False
    fail_with: str | None = None
    output_too_large_bytes: int | None = Field(default=None, gt=0)
    output_not_image: bool = False
    rate_limit_creates: int = Field(default=0, ge=0)
    retry_after_s: int = Field(default=1, ge=0)


class RecordedRequest(NamedTuple):
    """One request the fake answered: never its token, only whether it carried an ``Authorization`` header."""

    method: str
    path: str
    authorization_sent: bool


class WebhookDelivery(NamedTuple):
    """One webhook sent: the prediction, its ``webhook-id``, the URL and the receiver's status (None: unsent,
    0: the connection failed)."""

    prediction_id: str
    webhook_id: str
    url: str
    status: int | None


@dataclass
class _Prediction:
    id: str
    version: str
    input: dict[str, Any]
    base: str
    created: float
    webhook: str | None
    events: frozenset[str]
    faults: FakeReplicateFaults
    status: str = "starting"
    gets: int = 0
    completing: bool = False
    started: float | None = None
    completed: float | None = None
    output: str | list[str] | None = None
    error: str | None = None
    model: str | None = None  # an official model run by name (text-to-image); None: the upscale model's version


class FakeReplicate:
    """See the module docstring. ``fetch(url) -> bytes`` reads an input image (raise ``outputs.OutputError`` to fail
    the prediction); ``clock`` gives epoch seconds; ``files_url``: the root of output file URLs (as Replicate serves
    them from another host, ``https://replicate.delivery``), else the host the request came to. Thread-safe."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        model: str = DEFAULT_MODEL,
        version: str = DEFAULT_VERSION,
        gets_per_step: int | None = 1,
        seconds_per_step: float | None = None,
        fetch: Callable[[str], bytes] = outputs.fetch_url,
        clock: Callable[[], float] = time.time,
        files_url: str | None = None,
    ) -> None:
        self.files_url = files_url.rstrip("/") if files_url else None
        self.token, self.webhook_secret, self.model, self.version = token, webhook_secret, model, version
        self.gets_per_step, self.seconds_per_step = gets_per_step, seconds_per_step
        self.faults = FakeReplicateFaults()
        self._fetch, self._clock = fetch, clock
        self._lock = threading.RLock()
        self._predictions: dict[str, _Prediction] = {}
        self._files: dict[str, tuple[bytes, str]] = {}
        self._outbox: list[tuple[str, str, dict[str, Any], FakeReplicateFaults]] = []
        self._requests: list[RecordedRequest] = []
        self.deliveries: list[WebhookDelivery] = []

    # -- set-up -----------------------------------------------------------------------------------------------------

    def set_faults(self, faults: FakeReplicateFaults | None = None, **values: Any) -> None:
        """Replace the faults (``faults`` or keyword fields; nothing resets them)."""
        with self._lock:
            self.faults = faults if faults is not None else FakeReplicateFaults(**values)

    def set_progress(self, *, gets_per_step: int | None, seconds_per_step: float | None) -> None:
        """How predictions advance: one step per ``gets_per_step`` GETs and/or per ``seconds_per_step`` s."""
        with self._lock:
            self.gets_per_step, self.seconds_per_step = gets_per_step, seconds_per_step

    def recorded(self) -> list[RecordedRequest]:
        """The requests answered so far, in order."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def predictions(self) -> list[dict[str, Any]]:
        """Every prediction as ``GET /predictions/{id}`` shows it."""
        with self._lock:
            return [self._view(prediction) for prediction in self._predictions.values()]

    def settings_env(self, url: str) -> dict[str, str]:
        """The ``SLEEVE_REPLICATE_*`` settings that point Sleeve at this fake served at ``url``."""
        return {
            "SLEEVE_REPLICATE_API_URL": f"{url.rstrip('/')}/v1",
            "SLEEVE_REPLICATE_API_TOKEN": self.token,
            "SLEEVE_REPLICATE_WEBHOOK_SECRET": self.webhook_secret,
            "SLEEVE_REPLICATE_UPSCALE_MODEL": self.model,
            "SLEEVE_REPLICATE_OUTPUT_ALLOW_HTTP": "true",
        }

    # -- the API ----------------------------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (``httpx.MockTransport(fake.handle)``)."""
        path = request.url.path
        with self._lock:
            self._requests.append(RecordedRequest(request.method, path, "authorization" in request.headers))
        if request.method == "GET" and path.startswith("/_files/"):
            return self._file(path.removeprefix("/_files/"))
        if not path.startswith("/v1/"):
            return problem(404, "Not found", f"no route {path}")
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        base = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
        if request.method == "POST" and path == "/v1/predictions":
            return self._create(request, base)
        if (match := _MODEL_PREDICTIONS.fullmatch(path)) and request.method == "POST":
            if f"{match[1]}/{match[2]}" not in generate.GENERATE_MODELS:
                return problem(404, "Not found", "The requested resource could not be found.")
            return self._create(request, base, model=f"{match[1]}/{match[2]}")
        if match := _MODEL.fullmatch(path):
            if request.method == "GET" and f"{match[1]}/{match[2]}" == self.model:
                return httpx.Response(200, json=self._model_view())
            return problem(404, "Not found", "The requested resource could not be found.")
        if match := _PREDICTION.fullmatch(path):
            if request.method == "GET" and not match[2]:
                return self._get(match[1])
            if request.method == "POST" and match[2]:
                return self._cancel(match[1])
        return problem(404, "Not found", "The requested resource could not be found.")

    def tick(self) -> int:
        """Advance every open prediction by elapsed time (``seconds_per_step``) and complete those due; returns how
        many completed. The server calls it from its background thread."""
        with self._lock:
            due = [p for p in self._predictions.values() if self._advance(p, by_get=False)]
        for prediction in due:
            self._complete(prediction)
        return len(due)

    def deliver_webhooks(self, send: Callable[[httpx.Request], int] | None = None) -> list[httpx.Request]:
        """The signed webhook requests queued since the last call (a ``replay`` fault: each twice, same
        ``webhook-id``); with ``send`` (returns the receiver's status), each is sent and logged in
        ``deliveries``."""
        with self._lock:
            pending, self._outbox = self._outbox, []
        sent: list[httpx.Request] = []
        for prediction_id, url, view, faults in pending:
            message_id = outputs.webhook_id()
            stamp = int(self._clock()) - (outputs.STALE_BY_S if faults.stale_timestamp else 0)
            for _ in range(2 if faults.replay else 1):
                request = outputs.signed_delivery(
                    url,
                    view,
                    secret=self.webhook_secret,
                    message_id=message_id,
                    timestamp=stamp,
                    bad_signature=faults.bad_signature,
                )
                status = send(request) if send is not None else None
                with self._lock:
                    self.deliveries.append(WebhookDelivery(prediction_id, message_id, url, status))
                sent.append(request)
        return sent

    # -- routes -----------------------------------------------------------------------------------------------------

    def _create(self, request: httpx.Request, base: str, model: str | None = None) -> httpx.Response:
        try:
            body = json.loads(request.content or b"null")
        except ValueError:
            return problem(400, "Invalid JSON", "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return problem(422, "Input validation failed", "The request body must be an object.")
        with self._lock:
            faults = self.faults
            if faults.rate_limit_creates > 0:
                self.faults = faults.model_copy(update={"rate_limit_creates": faults.rate_limit_creates - 1})
                wait = faults.retry_after_s
                return problem(
                    429,
                    "Request was throttled",
                    f"Request was throttled. Your rate limit resets in ~{wait}s.",
                    {"Retry-After": str(wait)},
                )
        invalid = generate.invalid_input(body) if model else self._invalid_create(body)
        if invalid is not None:
            return problem(422, "Input validation failed", invalid)
        prediction = _Prediction(
            id=outputs.prediction_id(),
            version=body.get("version") or "",
            input=dict(body["input"]),
            base=base,
            created=self._clock(),
            webhook=body.get("webhook"),
            events=frozenset(body.get("webhook_events_filter") or WEBHOOK_EVENTS),
            faults=faults.model_copy(update={"rate_limit_creates": 0}),
            model=model,
        )
        with self._lock:
            self._predictions[prediction.id] = prediction
            return httpx.Response(201, json=self._view(prediction))

    def _invalid_create(self, body: dict[str, Any]) -> str | None:
        if body.get("version") != self.version:
            return "Invalid version or not permitted"
        data = body.get("input")
        if not isinstance(data, dict) or not isinstance(data.get("image"), str):
            return "- input: image is required"
        scale = data.get("scale", 4)
        if not isinstance(scale, int) or not 0 < scale <= 10:
            return "- input.scale: Must be less than or equal to 10"
        webhook = body.get("webhook")
        if webhook is not None and not (isinstance(webhook, str) and webhook.startswith(("http://", "https://"))):
            return "- webhook: must be a valid URL"
        events = body.get("webhook_events_filter")
        if events is not None and not (isinstance(events, list) and set(events) <= WEBHOOK_EVENTS):
            return "- webhook_events_filter: must be a list of start, output, logs, completed"
        return None

    def _get(self, prediction_id: str) -> httpx.Response:
        with self._lock:
            prediction = self._predictions.get(prediction_id)
            if prediction is None:
                return problem(404, "Not found", "The requested resource could not be found.")
            due = self._advance(prediction, by_get=True)
        if due:
            self._complete(prediction)
        with self._lock:
            return httpx.Response(200, json=self._view(prediction))

    def _cancel(self, prediction_id: str) -> httpx.Response:
        with self._lock:
            prediction = self._predictions.get(prediction_id)
            if prediction is None:
                return problem(404, "Not found", "The requested resource could not be found.")
            if prediction.status not in TERMINAL and not prediction.completing:
                prediction.status, prediction.completed = "canceled", self._clock()
                self._queue_webhook(prediction)
            return httpx.Response(200, json=self._view(prediction))

    def _file(self, name: str) -> httpx.Response:
        with self._lock:
            found = self._files.get(name)
        if found is None:
            return httpx.Response(404, text="Not Found")
        data, content_type = found
        return httpx.Response(200, content=data, headers={"Content-Type": content_type})

    # -- progress ---------------------------------------------------------------------------------------------------

    def _advance(self, prediction: _Prediction, *, by_get: bool) -> bool:
        """Move ``prediction`` on (under the lock); True when it is now due to complete (the caller completes it)."""
        if prediction.status in TERMINAL or prediction.completing:
            return False
        stage = 0 if prediction.status == "starting" else 1
        target = stage
        if by_get and self.gets_per_step:
            prediction.gets += 1
            target = max(target, prediction.gets // self.gets_per_step)
        if self.seconds_per_step is not None:
            elapsed = self._clock() - prediction.created
            target = max(target, int(elapsed // self.seconds_per_step) if self.seconds_per_step > 0 else 2)
        if target >= 1 and prediction.status == "starting":
            prediction.status, prediction.started = "processing", self._clock()
        if target >= 2:
            prediction.completing = True
            return True
        return False

    def _complete(self, prediction: _Prediction) -> None:
        """Make the outcome (outside the lock: it fetches and resizes), then record it and queue the webhook."""
        faults = prediction.faults
        error: str | None = faults.fail_with
        output: tuple[bytes, str] | None = None
        extension = "png"
        if error is None:
            try:
                if prediction.model:
                    image, content_type, extension = generate.generated_image(prediction.input)
                else:
                    image = outputs.upscale_png(
                        self._fetch(prediction.input["image"]), prediction.input.get("scale", 4)
                    )
                    content_type = "image/png"
            except outputs.OutputError as exc:
                error = str(exc)
            else:
                if faults.output_not_image:
                    output = (outputs.NOT_AN_IMAGE, "text/html")
                elif faults.output_too_large_bytes is not None:
                    output = (outputs.padded(image, faults.output_too_large_bytes), content_type)
                else:
                    output = (image, content_type)
        with self._lock:
            prediction.completing = False
            if prediction.status in TERMINAL:  # canceled meanwhile
                return
            if error is not None or output is None:
                prediction.status, prediction.error = "failed", error
            else:
                name = f"{prediction.id}.{extension}"
                self._files[name] = output
                url = f"{self.files_url or prediction.base}/_files/{name}"
                prediction.status, prediction.output = "succeeded", [url] if prediction.model else url
            prediction.completed = self._clock()
            prediction.started = prediction.started or prediction.completed
            self._queue_webhook(prediction)

    def _queue_webhook(self, prediction: _Prediction) -> None:
        if prediction.webhook and "completed" in prediction.events and not prediction.faults.no_webhook:
            self._outbox.append((prediction.id, prediction.webhook, self._view(prediction), prediction.faults))

    # -- views ------------------------------------------------------------------------------------------------------

    def _model_view(self) -> dict[str, Any]:
        owner, _, name = self.model.partition("/")
        version = {"id": self.version, "created_at": "2023-06-05T17:21:32.226Z", "cog_version": "0.7.2"}
        return {"url": f"https://replicate.com/{self.model}", "owner": owner, "name": name, "visibility": "public",
                "description": "Real-ESRGAN with optional face correction and adjustable upscale (fake)",
                "latest_version": {**version, "openapi_schema": {}}}  # fmt: skip

    def _view(self, prediction: _Prediction) -> dict[str, Any]:
        url = f"{prediction.base}/v1/predictions/{prediction.id}"
        metrics: dict[str, Any] = {}
        if prediction.completed is not None and prediction.started is not None:
            metrics["predict_time"] = round(prediction.completed - prediction.started, 3)
        return {
            "id": prediction.id,
            "model": prediction.model or self.model,
            "version": prediction.version or None,
            "input": prediction.input,
            "logs": "",
            "output": prediction.output,
            "data_removed": False,
            "error": prediction.error,
            "status": prediction.status,
            "created_at": iso(prediction.created),
            "started_at": iso(prediction.started),
            "completed_at": iso(prediction.completed),
            "urls": {"get": url, "cancel": f"{url}/cancel", "web": f"https://replicate.com/p/{prediction.id}"},
            "metrics": metrics,
        }
