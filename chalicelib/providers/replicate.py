"""Replicate (https://replicate.com/docs/reference/http) as an ``Upscaler`` and ``PredictionClient``
(providers/upscaling.py): Real-ESRGAN x4 on ``nightmareai/real-esrgan`` as an asynchronous prediction.

Requests, with ``Authorization: Bearer <SLEEVE_REPLICATE_API_TOKEN>``:

1. ``GET /models/{owner}/{name}`` once per instance, for ``latest_version.id`` (skipped when
   ``SLEEVE_REPLICATE_UPSCALE_VERSION`` pins one);
2. ``POST /predictions`` ``{"version", "input": {"image", "scale": 4, "face_enhance": false}, "webhook",
   "webhook_events_filter": ["completed"]}`` → 201 with the prediction (``status`` ``starting``);
3. later ``GET /predictions/{id}`` (the poller) or the webhook (the same prediction object,
   https://replicate.com/docs/topics/webhooks/receive-webhook), and ``POST /predictions/{id}/cancel``;
4. the output file, downloaded at once (inputs and outputs "are automatically deleted after an hour",
   https://replicate.com/docs/topics/webhooks) from its own host, without the token.

Creating predictions is limited to 600 requests per minute and other endpoints to 3000 (a 429 with
``{"detail": "Request was throttled. Your rate limit resets in ~30s."}``,
https://replicate.com/docs/topics/predictions/rate-limits): one request start per 0.1 s per instance, and a 429's
``Retry-After`` honoured up to ``SLEEVE_PROVIDER_RETRY_AFTER_CAP_S`` (``ProviderHttp``).

A create that timed out or answered 5xx is retried like any request, and Replicate has no idempotency key: a
prediction may then exist twice. Only the one returned is the job's ``external_id``; the other's webhook names a
prediction id the job does not hold.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from chalicelib.providers import parsing
from chalicelib.providers.base import (
    NOT_CONFIGURED,
    ProviderBadResponseError,
    ProviderNotFoundError,
    ProviderUnavailableError,
)
from chalicelib.providers.http import HttpPolicy, ProviderHttp
from chalicelib.providers.replicate_models import (
    ReplicateCreatePrediction,
    ReplicateModel,
    ReplicatePrediction,
    ReplicateProblem,
    ReplicateUpscaleInput,
)
from chalicelib.providers.upscaling import PredictionStarted, PredictionState, UpscaleFailedError, UpscaleRequest

if TYPE_CHECKING:
    from chalicelib.config import Settings

log = logging.getLogger(__name__)

SERVICE = "replicate"
#: 600 creates per minute (Replicate's rate limits page) → at least 0.1 s between request starts.
MIN_INTERVAL_S = 60.0 / 600
#: The webhook events asked for: one call when the prediction reaches a terminal state.
WEBHOOK_EVENTS = ["completed"]
DOWNLOAD_CHUNK_BYTES = 64 * 1024
MAX_OUTPUT_REDIRECTS = 3


def error_message(response: httpx.Response) -> str | None:
    """The ``detail`` (else ``title``) of a Replicate error body; None when it has neither."""
    try:
        problem = ReplicateProblem.model_validate(response.json())
    except (ValueError, ValidationError):
        return None
    return problem.detail or problem.title


def parse_prediction(payload: Mapping[str, Any] | Any) -> PredictionState:
    """A prediction object (a ``GET /predictions/{id}`` answer or a webhook body) as a ``PredictionState``.

    ``output_urls`` only once ``succeeded``: ``output`` is one URL (real-esrgan) or a list of URLs (other models);
    ``error`` is the prediction's message (kept as text) when it has one. Raises ``ProviderBadResponseError`` for a
    body that is not a prediction, or a ``succeeded`` one without an output URL.
    """
    prediction = _parse(ReplicatePrediction, payload, "the prediction")
    urls: list[str] = []
    if prediction.status == "succeeded":
        output = prediction.output
        candidates = [output] if isinstance(output, str) else output if isinstance(output, list) else []
        urls = [url for url in candidates if isinstance(url, str) and url]
        if not urls or len(urls) != len(candidates):
            raise ProviderBadResponseError(
                SERVICE, f"Replicate reported prediction {prediction.id} succeeded without output file URLs"
            )
    error = None if prediction.error in (None, "") else str(prediction.error)
    return PredictionState(external_id=prediction.id, status=prediction.status, output_urls=urls, error=error)


class _RefusedUrl(Exception):
    """An output URL (or a redirect from it) whose scheme the settings do not allow."""


class ReplicateUpscaler:
    """Replicate as an ``Upscaler`` (``start`` returns ``PredictionStarted``) and a ``PredictionClient``.

    ``settings``: ``replicate_api_url``, ``replicate_api_token``, ``replicate_upscale_model`` (``owner/name``),
    ``replicate_upscale_version``, the ``replicate_output_*`` download rules and the ``provider_*`` timeouts and
    retries. ``transport`` replaces the network in tests (``httpx.MockTransport``) for the API and the downloads;
    ``sleep`` and ``clock`` (monotonic seconds) the waits. Without a token it makes no request and
    ``unavailable_reason()`` says ``not_configured``. Thread-safe.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._clock = clock
        token = parsing.secret_or_none(settings.replicate_api_token, strip=True)
        self._http: ProviderHttp | None = None
        if token is not None:
            self._http = ProviderHttp(
                SERVICE,
                settings.replicate_api_url,
                HttpPolicy.from_settings(settings, min_interval_s=MIN_INTERVAL_S),
                headers={"Authorization": f"Bearer {token.get_secret_value().strip()}", "Accept": "application/json"},
                transport=transport,
                error_message=error_message,
                sleep=sleep,
                clock=clock,
            )
        # Output files live on another host: a client of their own, which never holds the token.
        self._downloads = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(settings.replicate_output_timeout_s),
            follow_redirects=True,
            max_redirects=MAX_OUTPUT_REDIRECTS,
            event_hooks={"request": [self._check_output_request]},
        )
        self._version: str | None = (settings.replicate_upscale_version or "").strip() or None
        self._version_lock = threading.Lock()

    @property
    def name(self) -> str:
        """``replicate``."""
        return SERVICE

    @property
    def model(self) -> str:
        """The model it runs, ``owner/name`` (settings ``replicate_upscale_model``)."""
        return self._settings.replicate_upscale_model

    def unavailable_reason(self) -> str | None:
        """``not_configured`` without ``SLEEVE_REPLICATE_API_TOKEN``, else None."""
        return NOT_CONFIGURED if self._http is None else None

    def close(self) -> None:
        """Close both HTTP clients."""
        if self._http is not None:
            self._http.close()
        self._downloads.close()

    # -- predictions ------------------------------------------------------------------------------------------------

    def model_version(self) -> str:
        """The version id predictions run: the pinned ``replicate_upscale_version``, else the model's
        ``latest_version.id`` (one ``GET /models/{owner}/{name}`` per instance, then cached). Raises
        ``ProviderBadResponseError`` for a model without a version (or a model setting that is not ``owner/name``),
        and the ``ProviderFailure`` tree."""
        with self._version_lock:
            if self._version is None:
                owner, _, name = self.model.partition("/")
                if not owner or not name or "/" in name:
                    raise ProviderBadResponseError(SERVICE, f"the Replicate model {self.model!r} is not owner/name")
                payload = self._api().get_json(f"models/{quote(owner, safe='')}/{quote(name, safe='')}")
                found = _parse(ReplicateModel, payload, "the model")
                if found.latest_version is None:
                    raise ProviderBadResponseError(SERVICE, f"the Replicate model {self.model} has no version")
                self._version = found.latest_version.id
                log.info("replicate: %s runs version %s", self.model, self._version)
            return self._version

    def start(self, request: UpscaleRequest) -> PredictionStarted:
        """Create the prediction (``POST /predictions``) of ``request.image_url`` ×``request.scale``, with the
        webhook when ``request.webhook_url`` is set (no webhook keys otherwise: the poller completes it).

        Returns its id and ``model`` ``owner/name:version``. Raises ``UpscaleFailedError`` ``upscaler_unavailable``
        without a token, ``ProviderRateLimitedError`` when 429s outlast the retries or ask to wait past the cap,
        ``ProviderUnauthorisedError`` (401/403), and the rest of the ``ProviderFailure`` tree.
        """
        version = self.model_version()
        body = ReplicateCreatePrediction(
            version=version,
            input=ReplicateUpscaleInput(image=request.image_url, scale=request.scale, face_enhance=False),
            webhook=request.webhook_url,
            webhook_events_filter=list(WEBHOOK_EVENTS) if request.webhook_url else None,
        )
        response = self._api().request("POST", "predictions", json=body.model_dump(mode="json", exclude_none=True))
        prediction = _parse(ReplicatePrediction, _json_body(response, "the prediction request"), "the prediction")
        log.info(
            "replicate: prediction %s created for job %s (%s)",
            prediction.id,
            request.job_id,
            "webhook" if request.webhook_url else "no webhook, polled",
            extra={"prediction_id": prediction.id, "job_id": request.job_id},
        )
        return PredictionStarted(external_id=prediction.id, model=f"{self.model}:{version}")

    def get_prediction(self, external_id: str) -> PredictionState:
        """``GET /predictions/{id}`` as a ``PredictionState`` (``parse_prediction``). Raises
        ``ProviderNotFoundError`` for an unknown id and the rest of the ``ProviderFailure`` tree."""
        return parse_prediction(self._api().get_json(f"predictions/{quote(external_id, safe='')}"))

    def cancel_prediction(self, external_id: str) -> None:
        """``POST /predictions/{id}/cancel``: best effort and idempotent (a finished prediction stays as it is; an
        unknown one is nothing to cancel). Raises the other ``ProviderFailure``s for the caller to log."""
        try:
            self._api().request("POST", f"predictions/{quote(external_id, safe='')}/cancel")
        except ProviderNotFoundError:
            log.info("replicate: prediction %s not found to cancel", external_id)

    # -- output files -----------------------------------------------------------------------------------------------

    def download_output(self, url: str) -> bytes:
        """The bytes of one output file, read at once (Replicate deletes it after an hour).

        Rules: ``https`` only (``http`` too when ``replicate_output_allow_http``, the local fake's setting), for the
        URL and every redirect (at most 3); no ``Authorization`` header (the file host is not the API); at most
        ``replicate_output_max_bytes`` decoded bytes, streamed and abandoned as soon as they are passed (a declared
        ``Content-Length`` over the cap is refused before reading); within ``replicate_output_timeout_s`` per read
        and in all.

        Raises ``UpscaleFailedError`` ``output_url_refused`` / ``output_too_large``, ``ProviderNotFoundError`` (404
        or 410: already deleted), ``ProviderUnavailableError`` (other statuses, timeouts, connection errors),
        ``ProviderBadResponseError`` (too many redirects, an undecodable body).
        """
        cap = self._settings.replicate_output_max_bytes
        try:
            target = httpx.URL(url)
            self._check_output_url(target)
        except (httpx.InvalidURL, _RefusedUrl) as exc:
            raise UpscaleFailedError(SERVICE, f"output URL refused: {exc}", code="output_url_refused") from None
        deadline = self._clock() + self._settings.replicate_output_timeout_s
        where = f"{target.host}{target.path}"
        try:
            with self._downloads.stream("GET", target) as response:
                status = response.status_code
                if status in (404, 410):
                    raise ProviderNotFoundError(SERVICE, f"Replicate's output {where} is gone ({status})")
                if not response.is_success:
                    raise ProviderUnavailableError(SERVICE, f"Replicate's output {where} answered {status}")
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > cap:
                    raise _too_large(where, cap)
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes(DOWNLOAD_CHUNK_BYTES):
                    size += len(chunk)
                    if size > cap:
                        raise _too_large(where, cap)
                    if self._clock() > deadline:
                        raise ProviderUnavailableError(SERVICE, f"downloading Replicate's output {where} timed out")
                    chunks.append(chunk)
        except _RefusedUrl as exc:
            raise UpscaleFailedError(SERVICE, f"output redirect refused: {exc}", code="output_url_refused") from None
        except httpx.TimeoutException as exc:
            raise ProviderUnavailableError(
                SERVICE, f"downloading Replicate's output {where} timed out ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise ProviderUnavailableError(
                SERVICE, f"Replicate's output {where} could not be read ({type(exc).__name__})"
            ) from None
        except httpx.RequestError as exc:  # too many redirects, an undecodable body
            raise ProviderBadResponseError(
                SERVICE, f"Replicate's output {where} answered unusably ({type(exc).__name__})"
            ) from None
        log.info("replicate: downloaded %d bytes from %s", size, target.host, extra={"bytes": size})
        return b"".join(chunks)

    # -- helpers ----------------------------------------------------------------------------------------------------

    def _api(self) -> ProviderHttp:
        if self._http is None:
            raise UpscaleFailedError(
                SERVICE, "Replicate is not configured (SLEEVE_REPLICATE_API_TOKEN)", code="upscaler_unavailable"
            )
        return self._http

    def _check_output_url(self, url: httpx.URL) -> None:
        allowed = ("https", "http") if self._settings.replicate_output_allow_http else ("https",)
        if url.scheme not in allowed or not url.host:
            raise _RefusedUrl(f"{url.scheme or 'no'} scheme (allowed: {', '.join(allowed)})")

    def _check_output_request(self, request: httpx.Request) -> None:
        # httpx calls this for the first request and for each redirect it follows.
        self._check_output_url(request.url)


def _too_large(where: str, cap: int) -> UpscaleFailedError:
    return UpscaleFailedError(
        SERVICE, f"Replicate's output {where} is larger than {cap} bytes", code="output_too_large", details={"max": cap}
    )


def _parse[ModelT: BaseModel](model: type[ModelT], payload: Any, what: str) -> ModelT:
    """``payload`` validated as ``model`` (``parsing.parse_payload``: ``ProviderBadResponseError`` naming at most five
    failed fields, never their values)."""
    return parsing.parse_payload(SERVICE, "Replicate", model, payload, what)


def _json_body(response: httpx.Response, what: str) -> Any:
    """``response``'s body as JSON (``parsing.json_body``: ``ProviderBadResponseError`` when it is not)."""
    return parsing.json_body(SERVICE, "Replicate", response, what)
