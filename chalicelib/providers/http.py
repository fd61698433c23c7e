"""The one HTTP path of every provider client: an ``httpx.Client`` with explicit timeouts, a rate limiter, retries with
full-jitter exponential backoff, ``Retry-After`` honoured on 429/503, and every failure translated once into the
``ProviderFailure`` tree of ``base`` (clients above never see httpx exceptions).

Credentials never leave this module in a log record or an error: errors and logs name the service, the status and the
URL path without its query string, never headers, bodies or the query.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from chalicelib.providers.base import (
    DspService,
    ProviderBadResponseError,
    ProviderFailure,
    ProviderNotFoundError,
    ProviderRateLimitedError,
    ProviderUnauthorisedError,
    ProviderUnavailableError,
)

if TYPE_CHECKING:
    from chalicelib.config import Settings

log = logging.getLogger(__name__)

#: Query parameters, form data and headers as httpx takes them.
type Params = Mapping[str, str | int | float] | None
type Data = Mapping[str, str] | None


@dataclass(frozen=True)
class HttpPolicy:
    """How a provider client talks HTTP.

    ``connect_timeout_s`` / ``read_timeout_s``: seconds to connect and to wait for each read (httpx ``Timeout``).
    ``max_retries``: retries after the first try of a 5xx, a timeout, a connection error or a 429/503 (so at most
    ``1 + max_retries`` requests). ``backoff_base_s`` / ``backoff_cap_s``: the full-jitter backoff before retry ``n``
    (0-based) sleeps ``uniform(0, min(cap, base * 2**n))`` seconds (AWS Architecture Blog, "Exponential Backoff And
    Jitter", 2015). ``retry_after_cap_s``: the longest ``Retry-After`` waited for; a longer one fails at once with
    ``ProviderRateLimitedError``. ``min_interval_s``: the rate limiter, at least this long between request starts.
    """

    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0
    max_retries: int = 3
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 8.0
    retry_after_cap_s: float = 30.0
    min_interval_s: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings, *, min_interval_s: float = 0.0) -> HttpPolicy:
        """The policy of the ``SLEEVE_PROVIDER_*`` settings, with this provider's ``min_interval_s``."""
        return cls(
            connect_timeout_s=settings.provider_connect_timeout_s,
            read_timeout_s=settings.provider_read_timeout_s,
            max_retries=settings.provider_max_retries,
            backoff_base_s=settings.provider_backoff_base_s,
            retry_after_cap_s=settings.provider_retry_after_cap_s,
            min_interval_s=min_interval_s,
        )

    def backoff_s(self, retry: int, jitter: float) -> float:
        """The sleep before retry ``retry`` (0-based) for a ``jitter`` in [0, 1): full jitter over the capped
        exponential."""
        return jitter * min(self.backoff_cap_s, self.backoff_base_s * 2.0**retry)


class RateLimiter:
    """At least ``min_interval_s`` seconds between the starts of the requests that ``acquire()`` it, across threads.

    Each caller reserves the next free start under a lock and sleeps outside it, so concurrent callers queue up in
    order instead of all waking at once. ``clock`` (monotonic seconds) and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        min_interval_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_start = -math.inf

    def acquire(self) -> float:
        """Wait until this caller may start a request; returns the seconds waited (0.0 when none)."""
        if self.min_interval_s <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            start = max(now, self._next_start)
            self._next_start = start + self.min_interval_s
        wait = start - now
        if wait > 0:
            self._sleep(wait)
        return wait


def _retry_after_s(response: httpx.Response) -> float | None:
    """The ``Retry-After`` of a response in seconds, when it is given as (non-negative) seconds; None otherwise
    (absent, or an HTTP date: the DSPs Sleeve talks to send seconds)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 and math.isfinite(seconds) else None


class ProviderHttp:
    """One provider's HTTP client (see the module docstring).

    ``base_url``: the service's API root (a ``SLEEVE_*_API_URL`` setting); ``headers``: sent on every request (a
    User-Agent, an ``Accept``); ``transport``: an ``httpx.MockTransport`` in tests; ``error_message``: extracts the
    service's own error message from a 401/403 response (e.g. Spotify's "Active premium subscription required for the
    owner of the app."), None when it has none; ``limiter``: a ``RateLimiter`` shared with other clients (MusicBrainz's
    limit is per process), else one of ``policy.min_interval_s``. ``sleep``, ``clock`` and ``jitter`` (uniform in
    [0, 1)) are injectable so tests never really sleep.
    """

    def __init__(
        self,
        service: DspService | str,
        base_url: str,
        policy: HttpPolicy,
        *,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        error_message: Callable[[httpx.Response], str | None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.service: DspService | str = service
        self.policy = policy
        self.limiter = limiter or RateLimiter(policy.min_interval_s, clock=clock, sleep=sleep)
        self._error_message = error_message
        self._sleep = sleep
        self._jitter = jitter
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers=dict(headers or {}),
            timeout=httpx.Timeout(policy.read_timeout_s, connect=policy.connect_timeout_s),
            transport=transport,
            follow_redirects=False,
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Params = None,
        data: Data = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request and return its 2xx response, retrying what may pass on a second try.

        ``json``: a JSON request body (Replicate's ``POST /predictions``), ``data`` a form body.
        ``url`` is relative to the base URL (``"albums/1"`` or ``"/albums/1"``) or absolute on the base URL's host
        (Spotify's ``next`` links; another host is refused with ``ProviderBadResponseError``, so the client's
        credentials never travel there). Retries 5xx, timeouts and connection errors with full-jitter backoff, and
        429/503 after their ``Retry-After`` (or the backoff when they give none), at most ``policy.max_retries``
        times.

        Raises ``ProviderRateLimitedError`` (a ``Retry-After`` over ``retry_after_cap_s``, at once; or 429s, and 503s
        with ``Retry-After``, after the retries), ``ProviderUnavailableError`` (5xx, timeouts, connection errors after
        the retries), ``ProviderUnauthorisedError`` (401/403, with the service's message), ``ProviderNotFoundError``
        (404), ``ProviderBadResponseError`` (any other status).
        """
        target = self._client.build_request(
            method, self._relative(url), params=params, data=data, json=json, headers=headers
        )
        path = target.url.path
        base = self._client.base_url
        if (target.url.scheme, target.url.host, target.url.port) != (base.scheme, base.host, base.port):
            # The client's headers (a bearer token) must not travel to another host a response pointed at.
            raise ProviderBadResponseError(self.service, f"{self.service} pointed {method} at another host ({path})")
        retry = 0
        while True:
            self.limiter.acquire()
            wait_s: float | None
            try:
                response = self._client.send(target, auth=auth)
            except httpx.TimeoutException as exc:
                failure: ProviderFailure = ProviderUnavailableError(
                    self.service, f"{self.service} timed out ({type(exc).__name__}) on {method} {path}"
                )
                wait_s, reason = None, "timeout"
            except httpx.TransportError as exc:
                failure = ProviderUnavailableError(
                    self.service, f"{self.service} could not be reached ({type(exc).__name__}) on {method} {path}"
                )
                wait_s, reason = None, "connection_error"
            except httpx.RequestError as exc:  # an undecodable body, too many redirects: no retry helps
                raise ProviderBadResponseError(
                    self.service, f"{self.service} answered {method} {path} unusably ({type(exc).__name__})"
                ) from None
            else:
                status = response.status_code
                if response.is_success:
                    return response
                if status in (429, 503):
                    wait_s = _retry_after_s(response)
                    if wait_s is not None and wait_s > self.policy.retry_after_cap_s:
                        raise ProviderRateLimitedError(
                            self.service,
                            f"{self.service} asked to wait {wait_s:g} s (over the {self.policy.retry_after_cap_s:g} s"
                            f" cap) on {method} {path}",
                            wait_s=wait_s,
                        )
                    if status == 429 or wait_s is not None:
                        failure = ProviderRateLimitedError(
                            self.service, f"{self.service} kept answering {status} on {method} {path}", wait_s=wait_s
                        )
                    else:
                        failure = ProviderUnavailableError(
                            self.service, f"{self.service} kept answering {status} on {method} {path}"
                        )
                elif status >= 500:
                    wait_s, failure = (
                        None,
                        ProviderUnavailableError(
                            self.service, f"{self.service} kept answering {status} on {method} {path}"
                        ),
                    )
                else:
                    raise self._client_error(response, method, path) from None
                reason = str(status)
            if retry >= self.policy.max_retries:
                raise failure
            delay = wait_s if wait_s is not None else self.policy.backoff_s(retry, self._jitter())
            log.info(
                "%s: %s on %s %s, retry %d of %d in %.2f s",
                self.service,
                reason,
                method,
                path,
                retry + 1,
                self.policy.max_retries,
                delay,
                extra={"service": self.service, "status": reason, "path": path, "retry": retry + 1, "delay_s": delay},
            )
            self._sleep(delay)
            retry += 1

    def get_json(self, url: str, *, params: Params = None, headers: Mapping[str, str] | None = None) -> Any:
        """``request("GET", …)`` decoded as JSON; a body that is not JSON raises ``ProviderBadResponseError``."""
        response = self.request("GET", url, params=params, headers=headers)
        try:
            return response.json()
        except ValueError:
            raise ProviderBadResponseError(
                self.service, f"{self.service} answered GET {response.request.url.path} with a body that is not JSON"
            ) from None

    def close(self) -> None:
        """Close the underlying ``httpx.Client``."""
        self._client.close()

    def _relative(self, url: str) -> str:
        # httpx joins a relative URL onto the base URL's path; a leading "/" would still be kept under it.
        return url if "://" in url else url.lstrip("/")

    def _client_error(self, response: httpx.Response, method: str, path: str) -> ProviderFailure:
        status = response.status_code
        if status in (401, 403):
            try:
                own = self._error_message(response) if self._error_message else None
            except ValueError:  # a body that is not the service's error JSON
                own = None
            message = f"{self.service} refused {method} {path} ({status})" + (f": {own}" if own else "")
            return ProviderUnauthorisedError(self.service, message, details={"status": status})
        if status == 404:
            return ProviderNotFoundError(self.service, f"{self.service} has nothing at {path}")
        return ProviderBadResponseError(
            self.service, f"{self.service} answered {status} to {method} {path}", details={"status": status}
        )
