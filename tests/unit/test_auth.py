"""Bearer tokens: local HS256 and Cognito RS256 (verified against a locally generated key set)."""

from __future__ import annotations

import os
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from chalicelib.auth import CognitoTokenVerifier, LocalTokenVerifier, bearer_token, issue_local_token
from chalicelib.config import Settings
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


def _verifier(rsa_key) -> CognitoTokenVerifier:
    return CognitoTokenVerifier(
        region="us-east-1", user_pool_id=POOL, app_client_id="app1", jwk_client=_StaticKeys(rsa_key.public_key())
    )


@pytest.mark.parametrize(
    "groups",
    ["admin", 7, 1.5, True, {"admin": True}, ["admin", 1], [["admin"]], [None], None, [{"name": "admin"}]],
    ids=["string", "int", "float", "bool", "object", "mixed-list", "nested-list", "null-item", "null", "object-list"],
)
def test_a_groups_claim_that_is_not_a_list_of_strings_gives_no_groups(rsa_key, groups):
    # Given: a validly signed token whose cognito:groups claim has another JSON type
    token = _cognito_token(rsa_key, **{"cognito:groups": groups})

    # When
    identity = _verifier(rsa_key).verify(token)

    # Then: the caller is authenticated, without any group (and so never an administrator); no 500
    assert identity.subject == "c0ffee"
    assert identity.groups == ()
    assert not identity.is_admin


def test_a_groups_claim_that_is_not_a_list_of_strings_gives_no_groups_locally_too():
    # Given: a local token (the same claim rules) whose groups claim is an object
    now = int(time.time())
    claims = {"sub": "carol", "iss": "sleeve-local", "iat": now, "exp": now + 60, "cognito:groups": {"admin": 1}}
    token = jwt.encode(claims, SECRET, algorithm="HS256")

    # When / Then
    assert LocalTokenVerifier(SECRET).verify(token).groups == ()


def test_a_list_of_strings_gives_those_groups(rsa_key):
    identity = _verifier(rsa_key).verify(_cognito_token(rsa_key, **{"cognito:groups": ["editors", "admin"]}))
    assert identity.groups == ("editors", "admin") and identity.is_admin


@pytest.mark.parametrize(
    "claims",
    [
        {"token_use": "id", "aud": "app1"},
        {"token_use": "access", "client_id": "app1"},
    ],
    ids=["id-token-aud", "access-token-client_id"],
)
def test_tokens_issued_for_the_app_client_are_accepted(rsa_key, claims):
    assert _verifier(rsa_key).verify(_cognito_token(rsa_key, **claims)).subject == "c0ffee"


@pytest.mark.parametrize(
    "claims",
    [
        {"token_use": "id", "aud": "another-app"},
        {"token_use": "id", "aud": ["app1"]},  # Cognito's aud is one client id, not a list
        {"token_use": "id", "client_id": "app1"},  # an id token names its client in aud, not client_id
        {"token_use": "access", "client_id": None},
        {"token_use": "access", "aud": "app1", "client_id": "another-app"},
    ],
    ids=["id-other-aud", "id-aud-list", "id-no-aud", "access-null-client", "access-other-client"],
)
def test_tokens_for_another_app_client_are_refused(rsa_key, claims):
    # Given: a validly signed token of the pool, issued for another app client (or naming none)
    token = _cognito_token(rsa_key, **claims)

    # When / Then
    with pytest.raises(UnauthorizedError) as info:
        _verifier(rsa_key).verify(token)
    assert info.value.code == "invalid_token"


def test_the_verifier_needs_an_app_client_id(rsa_key):
    # The check is never skipped: an empty app client id is a configuration error, not "any client".
    with pytest.raises(ValueError, match="app client id"):
        CognitoTokenVerifier(
            region="us-east-1", user_pool_id=POOL, app_client_id="", jwk_client=_StaticKeys(rsa_key.public_key())
        )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_outside_the_local_stage_the_app_client_id_is_required(monkeypatch, stage):
    # Given: a deployed stage's settings with a user pool but no app client id
    for name in [name for name in os.environ if name.startswith("SLEEVE_")]:
        monkeypatch.delenv(name)
    settings = {"stage": stage, "bucket_name": "b", "cognito_user_pool_id": "us-east-1_Pool"}

    # When / Then: refused at start-up, rather than accepting tokens of every app client of the pool
    with pytest.raises(ValidationError, match="SLEEVE_COGNITO_APP_CLIENT_ID is required outside the local stage"):
        Settings(**settings)
