"""Standard Webhooks verification of Replicate's webhooks (chalicelib/providers/webhooks.py): the reference vector,
good and bad signatures, several signatures, the timestamp tolerance both ways, missing headers, no secret, a
tampered body, and the error's shape."""

from __future__ import annotations

import base64
import json

import pytest

from chalicelib.errors import AppError
from chalicelib.providers.webhooks import WebhookRejectedError, sign_webhook, signing_key, verify_webhook

SECRET = "whsec_" + base64.b64encode(b"sleeve-test-signing-key-32-bytes").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another-signing-key-of-32-bytes!").decode()
NOW = 1_790_000_000
BODY = json.dumps({"id": "rrr4z55ocneqzikepnug6xezpe", "status": "succeeded", "output": "https://x/o.png"}).encode()


def headers_for(
    body: bytes = BODY, *, secret: str = SECRET, webhook_id: str = "msg_2a", at: int = NOW
) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(at),
        "webhook-signature": sign_webhook(secret, webhook_id, at, body),
    }


def reason(headers: dict[str, str], body: bytes = BODY, *, secret: str | None = SECRET, now: float = NOW) -> str:
    with pytest.raises(WebhookRejectedError) as caught:
        verify_webhook(headers, body, secret=secret, tolerance_s=300, now=now)
    return str(caught.value.reason)


def test_the_standard_webhooks_reference_vector_verifies() -> None:
    # Given the Standard Webhooks test vector (the signature the reference `standardwebhooks` 1.1.0 library computes)
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    body = b'{"test": 2432232314}'

    # When it is verified at its own time, and signed by our signer
    webhook_id = verify_webhook(headers, body, secret=secret, tolerance_s=300, now=1614265330)
    ours = sign_webhook(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)

    # Then it passes and both signers agree
    assert webhook_id == "msg_p5jXN8AQM9LWM0D4loKWxJek"
    assert ours == headers["webhook-signature"]


def test_a_good_signature_returns_the_webhook_id_whatever_the_header_case() -> None:
    # Given a signed delivery whose header names are in mixed case
    headers = {name.title(): value for name, value in headers_for().items()}

    # When it is verified
    webhook_id = verify_webhook(headers, BODY, secret=SECRET, tolerance_s=300, now=NOW)

    # Then its webhook-id comes back
    assert webhook_id == "msg_2a"


def test_a_bad_signature_is_refused() -> None:
    # Given a delivery whose signature is valid base64 but not the HMAC
    headers = {**headers_for(), "webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()}

    # Then it is refused as bad_signature
    assert reason(headers) == "bad_signature"


def test_a_signature_made_with_another_secret_is_refused() -> None:
    assert reason(headers_for(secret=OTHER_SECRET)) == "bad_signature"


def test_a_tampered_body_is_refused() -> None:
    # Given a genuinely signed delivery whose body was changed by one byte on the way
    tampered = BODY.replace(b"succeeded", b"succeedeD")

    # Then the signature no longer matches
    assert reason(headers_for(), tampered) == "bad_signature"


def test_one_matching_entry_among_several_signatures_is_enough() -> None:
    # Given a signature header as during a key rotation: an unknown version, garbage, the old key's, then ours
    good = sign_webhook(SECRET, "msg_2a", NOW, BODY)
    old = sign_webhook(OTHER_SECRET, "msg_2a", NOW, BODY)
    headers = {**headers_for(), "webhook-signature": f"v1a,abc v1 v1,!!notbase64 {old} {good}"}

    # When it is verified
    # Then it passes on the one valid entry
    assert verify_webhook(headers, BODY, secret=SECRET, tolerance_s=300, now=NOW) == "msg_2a"
    # And without that entry the rest is refused, not a crash
    headers["webhook-signature"] = f"v1a,abc v1 v1,!!notbase64 {old}"
    assert reason(headers) == "bad_signature"


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86_400])
def test_timestamps_outside_the_tolerance_either_way_are_refused(offset: int) -> None:
    # Given a correctly signed delivery stamped too far in the past or the future
    headers = headers_for(at=NOW + offset)

    # Then it is refused as stale
    assert reason(headers) == "stale_timestamp"


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_timestamps_within_the_tolerance_pass(offset: int) -> None:
    assert verify_webhook(headers_for(at=NOW + offset), BODY, secret=SECRET, tolerance_s=300, now=NOW) == "msg_2a"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused(missing: str) -> None:
    headers = headers_for()
    del headers[missing]

    assert reason(headers) == "missing_headers"


@pytest.mark.parametrize("value", ["", "soon", "1.7e9", "-1790000000", "١٧٩٠"])
def test_a_malformed_timestamp_is_refused_as_a_header_problem(value: str) -> None:
    assert reason({**headers_for(), "webhook-timestamp": value}) == "missing_headers"


@pytest.mark.parametrize("secret", [None, "", "   "])
def test_without_a_secret_every_webhook_is_refused(secret: str | None) -> None:
    # Given no webhook secret configured, and an otherwise good delivery
    # Then it is refused as not_configured (the poller completes jobs instead)
    assert reason(headers_for(), secret=secret) == "not_configured"


def test_an_undecodable_secret_is_reported_as_not_configured() -> None:
    assert reason(headers_for(), secret="whsec_%%%not-base64%%%") == "not_configured"
    with pytest.raises(WebhookRejectedError):
        signing_key("whsec_")


def test_a_non_utf8_body_is_verified_as_bytes() -> None:
    # Given a body that is not UTF-8, signed as raw bytes
    body = b"\xff\xfe\x00binary"

    # Then it verifies (and tampering with it is still caught)
    assert verify_webhook(headers_for(body), body, secret=SECRET, tolerance_s=300, now=NOW) == "msg_2a"
    assert reason(headers_for(body), body + b"!") == "bad_signature"


def test_the_error_is_a_401_with_the_reason_and_no_secret_in_it() -> None:
    # When a forged delivery is refused
    with pytest.raises(WebhookRejectedError) as caught:
        verify_webhook(headers_for(secret=OTHER_SECRET), BODY, secret=SECRET, tolerance_s=300, now=NOW)

    # Then it is an AppError answered 401 invalid_webhook_signature with details.reason, naming no secret
    error = caught.value
    assert isinstance(error, AppError)
    assert error.status == 401
    body = error.to_body()
    assert body["error"]["code"] == "invalid_webhook_signature"
    assert body["error"]["details"] == {"reason": "bad_signature"}
    text = json.dumps(body)
    assert SECRET.removeprefix("whsec_") not in text and "v1," not in text
