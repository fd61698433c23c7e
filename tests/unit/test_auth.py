"""Bearer tokens: local HS256 and Cognito RS256 (verified against a locally generated key set)."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.auth import CognitoTokenVerifier, LocalTokenVerifier, bearer_token, issue_local_token
from chalicelib.errors import UnauthorizedError

SECRET = "unit-test-secret-of-at-least-32-bytes!"
POOL = "us-east-1_TestPool1"
ISSUER = f"https://cognito-idp.us-east-1.amazonaws.com/{POOL}"


class _StaticKeys:
    """Stands in for PyJWKClient: the pool's JWKS as one known key (no network)."""

    def __init__(self, public_key) -> None:
        self._key = jwt.PyJWK.from_dict(
            {**jwt.algorithms.RSAAlgorithm.to_jwk(public_key, as_dict=True), "kid": "k1", "alg": "RS256"}
        )

    def get_signing_key_from_jwt(self, token: str):
        if jwt.get_unverified_header(token).get("kid") != "k1":
            raise jwt.PyJWKClientError("Unable to find a signing key that matches")
        return self._key


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cognito_token(key, **claims) -> str:
    now = int(time.time())
    base = {
        "sub": "c0ffee",
        "iss": ISSUER,
        "exp": now + 60,
        "iat": now,
        "token_use": "access",
        "client_id": "app1",
        "cognito:groups": ["admin"],
    }
    return jwt.encode({**base, **claims}, key, algorithm="RS256", headers={"kid": "k1"})


def test_local_tokens_round_trip_with_groups():
    token = issue_local_token(subject="carol", groups=["admin"], secret=SECRET)
    identity = LocalTokenVerifier(SECRET).verify(token)
    assert identity.subject == "carol" and identity.groups == ("admin",) and identity.is_admin


def test_local_tokens_without_groups_are_not_admin():
    identity = LocalTokenVerifier(SECRET).verify(issue_local_token(subject="alice", secret=SECRET))
    assert not identity.is_admin


def test_cognito_access_token_is_verified(rsa_key):
    verifier = CognitoTokenVerifier(
        region="us-east-1", user_pool_id=POOL, app_client_id="app1", jwk_client=_StaticKeys(rsa_key.public_key())
    )
    identity = verifier.verify(_cognito_token(rsa_key))
    assert identity.subject == "c0ffee" and identity.is_admin


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/other"},
        {"client_id": "another-app"},
        {"token_use": "refresh"},
        {"exp": int(time.time()) - 5},
    ],
)
def test_cognito_tokens_for_something_else_are_refused(rsa_key, claims):
    verifier = CognitoTokenVerifier(
        region="us-east-1", user_pool_id=POOL, app_client_id="app1", jwk_client=_StaticKeys(rsa_key.public_key())
    )
    with pytest.raises(UnauthorizedError):
        verifier.verify(_cognito_token(rsa_key, **claims))


def test_cognito_token_signed_by_another_key_is_refused(rsa_key):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    verifier = CognitoTokenVerifier(
        region="us-east-1", user_pool_id=POOL, app_client_id="app1", jwk_client=_StaticKeys(rsa_key.public_key())
    )
    with pytest.raises(UnauthorizedError):
        verifier.verify(_cognito_token(other))


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer   "])
def test_bearer_header_must_be_well_formed(header):
    with pytest.raises(UnauthorizedError) as info:
        bearer_token(header)
    assert info.value.code == "missing_token"


def test_bearer_scheme_is_case_insensitive():
    assert bearer_token("bearer abc.def") == "abc.def"
