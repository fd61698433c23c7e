"""ProviderHttp: retries with full-jitter backoff, Retry-After on 429/503, the rate limiter, the error mapping, and no
credential in any log record or error (httpx.MockTransport; injected sleep/clock, so nothing really sleeps)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from chalicelib.config import Settings
from chalicelib.providers.base import (
    ProviderBadResponseError,
    ProviderNotFoundError,
    ProviderRateLimitedError,
    ProviderUnauthorisedError,
    ProviderUnavailableError,
)
from chalicelib.providers.http import HttpPolicy, ProviderHttp, RateLimiter
from tests.unit.provider_support import FakeTime

BASE = "https://api.example.test/v1"
SECRET = "s3cr3t-t0k3n-value"


Step = httpx.Response | Exception


def scripted(steps: list[Step]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport answering ``steps`` in order (an exception is raised), recording the requests it saw."""
    seen: list[httpx.Request] = []
    queue: Iterator[Step] = iter(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = next(queue)
        if isinstance(step, Exception):
            raise step
        return step

    return httpx.MockTransport(handler), seen


def make_http(
    steps: list[Step],
    *,
    policy: HttpPolicy | None = None,
    jitter: float = 1.0,
    error_message: Callable[[httpx.Response], str | None] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[ProviderHttp, list[httpx.Request], FakeTime]:
    transport, seen = scripted(steps)
    time = FakeTime(100.0)
    http = ProviderHttp(
        "spotify",
        BASE,
        policy or HttpPolicy(),
        headers=headers,
        transport=transport,
        error_message=error_message,
        sleep=time.sleep,
        clock=time.clock,
        jitter=lambda: jitter,
    )
    return http, seen, time


def ok(body: object = None) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {"ok": True})


# -- retries and backoff -----------------------------------------------------------------------------------------------


def test_a_5xx_then_success_is_retried_after_a_jittered_backoff() -> None:
    # Given a service answering 500, then 200
    http, seen, time = make_http([httpx.Response(500), ok({"id": "1"})], jitter=0.5)

    # When a GET is sent
    body = http.get_json("albums/1")

    # Then the second try's body comes back, after half of the first backoff step (full jitter of 0.5 s)
    assert body == {"id": "1"}
    assert len(seen) == 2
    assert time.sleeps == [0.25]


def test_5xx_every_time_ends_unavailable_after_the_retries_with_a_capped_exponential_backoff() -> None:
    # Given a service that keeps answering 502, and a policy of 5 retries from 1 s capped at 3 s
    policy = HttpPolicy(max_retries=5, backoff_base_s=1.0, backoff_cap_s=3.0)
    http, seen, time = make_http([httpx.Response(502)] * 6, policy=policy, jitter=1.0)

    # When a GET is sent
    with pytest.raises(ProviderUnavailableError) as caught:
        http.request("GET", "albums/1")

    # Then it was tried 1 + 5 times, sleeping 1, 2, then the cap, and the error says which service and status
    assert len(seen) == 6
    assert time.sleeps == [1.0, 2.0, 3.0, 3.0, 3.0]
    assert caught.value.code == "unavailable"
    assert caught.value.transient
    assert caught.value.details["service"] == "spotify"
    assert "502" in caught.value.message


def test_a_timeout_then_success_is_retried() -> None:
    # Given a read that times out once
    http, seen, time = make_http([httpx.ReadTimeout("slow"), ok()])

    # When a GET is sent
    response = http.request("GET", "albums/1")

    # Then the retry succeeds
    assert response.status_code == 200
    assert len(seen) == 2
    assert len(time.sleeps) == 1


def test_connection_errors_every_time_end_unavailable_without_an_httpx_exception() -> None:
    # Given a service that cannot be reached, and one retry
    http, seen, _ = make_http([httpx.ConnectError("refused")] * 2, policy=HttpPolicy(max_retries=1))

    # When a GET is sent
    with pytest.raises(ProviderUnavailableError) as caught:
        http.request("GET", "albums/1")

    # Then the provider error (not httpx's) says it could not be reached, after 2 tries
    assert len(seen) == 2
    assert "ConnectError" in caught.value.message
    assert not isinstance(caught.value.__cause__, httpx.HTTPError)


# -- Retry-After -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_503_wait_for_their_retry_after_then_succeed(status: int) -> None:
    # Given a 429/503 asking to wait 2 s, then a 200
    http, seen, time = make_http([httpx.Response(status, headers={"Retry-After": "2"}), ok()], jitter=0.0)

    # When a GET is sent
    response = http.request("GET", "search", params={"q": "upc:1"})

    # Then the client slept exactly the asked 2 s (not the backoff) and got the 200
    assert response.status_code == 200
    assert time.sleeps == [2.0]
    assert len(seen) == 2


def test_a_retry_after_over_the_cap_fails_at_once_rate_limited_with_the_wait() -> None:
    # Given a 429 asking to wait 120 s, over the 30 s cap
    http, seen, time = make_http([httpx.Response(429, headers={"Retry-After": "120"})])

    # When a GET is sent
    with pytest.raises(ProviderRateLimitedError) as caught:
        http.request("GET", "search")

    # Then nobody waited: it fails after one request with the wait the service asked for
    assert len(seen) == 1
    assert time.sleeps == []
    assert caught.value.wait_s == 120.0
    assert caught.value.code == "rate_limited"
    assert caught.value.details["wait_s"] == 120.0


def test_429_every_time_ends_rate_limited_after_the_retries() -> None:
    # Given a service that keeps answering 429 with Retry-After: 1
    http, seen, time = make_http([httpx.Response(429, headers={"Retry-After": "1"})] * 4)

    # When a GET is sent
    with pytest.raises(ProviderRateLimitedError) as caught:
        http.request("GET", "search")

    # Then it tried 1 + 3 times, waiting 1 s each time
    assert len(seen) == 4
    assert time.sleeps == [1.0, 1.0, 1.0]
    assert caught.value.wait_s == 1.0


def test_a_503_without_retry_after_backs_off_and_ends_unavailable() -> None:
    # Given a 503 without Retry-After every time, and one retry
    http, _, time = make_http([httpx.Response(503)] * 2, policy=HttpPolicy(max_retries=1), jitter=1.0)

    # When a GET is sent
    with pytest.raises(ProviderUnavailableError):
        http.request("GET", "search")

    # Then the backoff (0.5 s), not a Retry-After, was waited
    assert time.sleeps == [0.5]


def test_a_retry_after_that_is_not_seconds_falls_back_to_the_backoff() -> None:
    # Given a 429 whose Retry-After is an HTTP date, then a 200
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    http, _, time = make_http([httpx.Response(429, headers={"Retry-After": date}), ok()], jitter=1.0)

    # When a GET is sent
    http.request("GET", "search")

    # Then the backoff was used
    assert time.sleeps == [0.5]


# -- the error mapping -------------------------------------------------------------------------------------------------


def test_403_is_unauthorised_with_the_services_own_message_and_not_retried() -> None:
    # Given Spotify's Premium-required refusal, and an extractor of Spotify's error message
    premium = "Active premium subscription required for the owner of the app."
    body = {"error": {"status": 403, "message": premium}}

    def spotify_message(response: httpx.Response) -> str | None:
        message = response.json().get("error", {}).get("message")
        return message if isinstance(message, str) else None

    http, seen, _ = make_http([httpx.Response(403, json=body)], error_message=spotify_message)

    # When a GET is sent
    with pytest.raises(ProviderUnauthorisedError) as caught:
        http.request("GET", "albums/1")

    # Then it fails at once with the service's message kept
    assert len(seen) == 1
    assert premium in caught.value.message
    assert caught.value.code == "unauthorised"


def test_401_with_a_body_that_is_not_json_is_unauthorised_without_a_message() -> None:
    # Given a 401 with an HTML body and an extractor expecting JSON
    http, _, _ = make_http([httpx.Response(401, text="<html>no</html>")], error_message=lambda r: r.json()["x"])

    # When a GET is sent
    with pytest.raises(ProviderUnauthorisedError) as caught:
        http.request("GET", "albums/1")

    # Then the status is reported without crashing on the body
    assert "401" in caught.value.message


@pytest.mark.parametrize(
    ("status", "error"),
    [(404, ProviderNotFoundError), (400, ProviderBadResponseError), (418, ProviderBadResponseError)],
)
def test_other_4xx_map_once_and_are_not_retried(status: int, error: type[Exception]) -> None:
    # Given a 4xx
    http, seen, _ = make_http([httpx.Response(status)])

    # When a GET is sent
    with pytest.raises(error):
        http.request("GET", "albums/1")

    # Then it was not retried
    assert len(seen) == 1


def test_a_body_that_is_not_json_is_a_bad_response() -> None:
    # Given a 200 whose body is not JSON
    http, _, _ = make_http([httpx.Response(200, text="<html>maintenance</html>")])

    # When it is read as JSON
    with pytest.raises(ProviderBadResponseError) as caught:
        http.get_json("albums/1")

    # Then a bad_response says so
    assert caught.value.code == "bad_response"


# -- URLs, headers -----------------------------------------------------------------------------------------------------


def test_relative_urls_join_the_base_path_and_absolute_ones_are_kept() -> None:
    # Given two answers
    http, seen, _ = make_http([ok(), ok()], headers={"User-Agent": "Sleeve/test ( a@b.c )"})

    # When a relative and an absolute (a "next" link) URL are requested
    http.request("GET", "/albums/1/tracks", params={"limit": 50})
    http.request("GET", "https://api.example.test/v1/albums/1/tracks?offset=50&limit=50")

    # Then the first joins the base URL's path, the second is used as it is, both with the client's headers
    assert str(seen[0].url) == "https://api.example.test/v1/albums/1/tracks?limit=50"
    assert str(seen[1].url) == "https://api.example.test/v1/albums/1/tracks?offset=50&limit=50"
    assert all(request.headers["User-Agent"] == "Sleeve/test ( a@b.c )" for request in seen)


def test_an_absolute_url_on_another_host_is_refused_before_any_request() -> None:
    # Given a client whose headers carry a token, and a "next" link pointing elsewhere
    http, seen, _ = make_http([ok()], headers={"Authorization": f"Bearer {SECRET}"})

    # When it is followed
    with pytest.raises(ProviderBadResponseError) as caught:
        http.request("GET", "https://evil.example.test/v1/albums/1/tracks?offset=50")

    # Then nothing was sent, and the error names no host's secret
    assert seen == []
    assert "another host" in caught.value.message


def test_policy_from_settings_takes_the_provider_settings() -> None:
    # Given provider settings
    settings = Settings(
        bucket_name="b",
        jwt_secret="s",
        provider_connect_timeout_s=1.5,
        provider_read_timeout_s=4.0,
        provider_max_retries=2,
        provider_backoff_base_s=0.1,
        provider_retry_after_cap_s=12.0,
    )  # type: ignore[call-arg]

    # When the policy is built
    policy = HttpPolicy.from_settings(settings, min_interval_s=1.0)

    # Then every field comes from them
    assert policy == HttpPolicy(
        connect_timeout_s=1.5,
        read_timeout_s=4.0,
        max_retries=2,
        backoff_base_s=0.1,
        retry_after_cap_s=12.0,
        min_interval_s=1.0,
    )


# -- secrets -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["bearer_header", "basic_auth"])
def test_no_credential_reaches_a_log_record_or_an_error(how: str, caplog: pytest.LogCaptureFixture) -> None:
    # Given a client sending a secret (a bearer token, or a basic-auth password), and a service failing 5xx, timing
    # out, then refusing with 401
    http, seen, _ = make_http(
        [httpx.Response(500), httpx.ReadTimeout("slow"), httpx.Response(401, json={"error": "bad"})],
        headers={"Authorization": f"Bearer {SECRET}"} if how == "bearer_header" else None,
        error_message=lambda r: "Invalid access token",
    )
    auth = ("client-id", SECRET) if how == "basic_auth" else None
    caplog.set_level(logging.DEBUG)

    # When a request is retried and then refused
    with pytest.raises(ProviderUnauthorisedError) as caught:
        http.request("POST", "api/token", data={"grant_type": "client_credentials"}, auth=auth)

    # Then the secret was sent, but appears in no log record (message, args or extra) and nowhere in the error
    sent = seen[0].headers["Authorization"]
    assert sent == f"Bearer {SECRET}" or sent == httpx.BasicAuth("client-id", SECRET)._auth_header
    assert len(caplog.records) >= 2
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in repr(vars(record))
        assert sent not in repr(vars(record))
    error = caught.value
    assert SECRET not in str(error)
    assert SECRET not in repr(error.to_body())


def test_retries_are_logged_at_info_with_service_status_and_the_path_without_the_query(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a 500 then a 200
    http, _, _ = make_http([httpx.Response(500), ok()])
    caplog.set_level(logging.INFO, logger="chalicelib.providers.http")

    # When a search is sent
    http.request("GET", "search", params={"q": "upc:602537518357"})

    # Then one INFO record names the service, the status and the path, but not the query
    records = [r for r in caplog.records if r.name == "chalicelib.providers.http"]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.INFO
    assert (record.service, record.status, record.path) == ("spotify", "500", "/v1/search")  # type: ignore[attr-defined]
    assert "602537518357" not in record.getMessage()


# -- the rate limiter --------------------------------------------------------------------------------------------------


def test_the_rate_limiter_spaces_request_starts() -> None:
    # Given a client allowed one request per second
    http, _, time = make_http([ok(), ok(), ok()], policy=HttpPolicy(min_interval_s=1.0))

    # When three requests are sent back to back
    starts = []
    for _ in range(3):
        http.request("GET", "albums/1")
        starts.append(time.now)

    # Then the second and third each waited a second
    assert time.sleeps == [1.0, 1.0]
    assert starts == [100.0, 101.0, 102.0]


def test_the_rate_limiter_gives_concurrent_callers_distinct_slots() -> None:
    # Given a limiter of 1 s on a clock that never moves, and ten threads acquiring it at once
    waits: list[float] = []
    lock = threading.Lock()
    limiter = RateLimiter(1.0, clock=lambda: 0.0, sleep=lambda _: None)

    def take() -> None:
        waited = limiter.acquire()
        with lock:
            waits.append(waited)

    threads = [threading.Thread(target=take) for _ in range(10)]

    # When they all acquire
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then each got its own slot, a second apart
    assert sorted(waits) == [float(n) for n in range(10)]


def test_a_zero_interval_never_waits() -> None:
    # Given a limiter of 0 s
    limiter = RateLimiter(0.0, clock=lambda: 0.0, sleep=lambda _: pytest.fail("slept"))

    # Then acquiring never waits
    assert [limiter.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
