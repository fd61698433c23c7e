"""Bearer-token identity: HS256 tokens signed with a local secret (``local`` stage), Cognito user-pool JWTs elsewhere.

The token's ``sub`` is the owner id; its ``cognito:groups`` claim carries the groups, ``admin`` marking
administrators. Only a JSON list of strings counts as groups: any other value (a string, a number, an object, a list
holding anything but strings, null) gives none. Sources: RFC 7519 (JWT), RFC 6750 (bearer tokens), AWS Cognito
docs "Verifying a JSON web token".
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

import jwt

from chalicelib.errors import UnauthorizedError
from chalicelib.models.domain import Identity

GROUPS_CLAIM = "cognito:groups"
LOCAL_ISSUER = "sleeve-local"


class TokenVerifier(Protocol):
    """Turns a bearer token into an Identity or raises ``UnauthorizedError``."""

    def verify(self, token: str) -> Identity:
        """The Identity the token proves; ``UnauthorizedError`` (code ``invalid_token``) for any defect."""
        ...


def issue_local_token(*, subject: str, groups: Sequence[str] = (), secret: str, ttl_s: int = 12 * 3600) -> str:
    """An HS256 JWT for the ``local`` stage: ``sub``=subject, ``cognito:groups``=groups, valid ``ttl_s`` seconds."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": subject, "iss": LOCAL_ISSUER, "iat": now, "exp": now + ttl_s}
    if groups:
        claims[GROUPS_CLAIM] = list(groups)
    return jwt.encode(claims, secret, algorithm="HS256")


def token_groups(claim: object) -> tuple[str, ...]:
    """The groups a ``cognito:groups`` claim names: the claim itself when it is a list of strings, else ``()``.

    Cognito issues the claim as a JSON array of group names ("Using the ID token", "Using the access token"); a
    signed token carrying anything else is not trusted with any group.
    """
    if isinstance(claim, list) and all(isinstance(group, str) for group in claim):
        return tuple(claim)
    return ()


def _identity(claims: dict[str, Any]) -> Identity:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise UnauthorizedError("The token has no subject.", code="invalid_token")
    return Identity(subject=subject, groups=token_groups(claims.get(GROUPS_CLAIM)))


class LocalTokenVerifier:
    """Verifies the ``local`` stage's HS256 tokens (signature, expiry, issuer)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def verify(self, token: str) -> Identity:
        """The token's Identity; ``UnauthorizedError`` (code ``invalid_token``) for any defect."""
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=["HS256"], issuer=LOCAL_ISSUER, options={"require": ["exp", "sub"]}
            )
        except jwt.PyJWTError as exc:
            raise UnauthorizedError(f"Invalid token: {exc}.", code="invalid_token") from exc
        return _identity(claims)


class CognitoTokenVerifier:
    """Verifies Cognito user-pool tokens (RS256 against the pool's JWKS, issuer, ``token_use``, client id).

    An access token must name ``app_client_id`` in its ``client_id`` claim, an ID token in its ``aud`` claim, so that
    tokens the pool issued to another app client are refused. ``jwk_client`` is a ``jwt.PyJWKClient`` for
    ``{issuer}/.well-known/jwks.json`` by default; tests pass one built on a local key set. Raises ``ValueError`` when
    ``app_client_id`` is empty. Source: AWS Cognito docs, "Verifying a JSON web token".
    """

    def __init__(self, *, region: str, user_pool_id: str, app_client_id: str, jwk_client: Any = None) -> None:
        if not app_client_id:
            raise ValueError("the Cognito app client id is required: tokens of every app client would pass otherwise")
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        self._client_id = app_client_id
        self._jwk_client = jwk_client or jwt.PyJWKClient(f"{self.issuer}/.well-known/jwks.json", cache_keys=True)

    def verify(self, token: str) -> Identity:
        """The token's Identity; ``UnauthorizedError`` (code ``invalid_token``) for any defect."""
        try:
            key = self._jwk_client.get_signing_key_from_jwt(token).key
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"require": ["exp", "sub"], "verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise UnauthorizedError(f"Invalid token: {exc}.", code="invalid_token") from exc
        token_use = claims.get("token_use")
        audience = claims.get("client_id") if token_use == "access" else claims.get("aud")
        if token_use not in {"access", "id"} or audience != self._client_id:
            raise UnauthorizedError("The token was not issued for this app.", code="invalid_token")
        return _identity(claims)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header (RFC 6750 §2.1); ``UnauthorizedError`` otherwise."""
    if not authorization:
        raise UnauthorizedError("Authorization: Bearer <token> is required.", code="missing_token")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("Authorization must use the Bearer scheme.", code="missing_token")
    return token.strip()
