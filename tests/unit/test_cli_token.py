"""``python -m chalicelib.cli token``: the local tokens `make token` prints."""

from __future__ import annotations

from chalicelib.auth import LocalTokenVerifier
from chalicelib.cli import local_jwt_secret, main


def test_token_is_accepted_by_the_local_verifier(capsys, monkeypatch):
    monkeypatch.delenv("SLEEVE_JWT_SECRET", raising=False)
    assert main(["token", "carol", "--groups", "admin,editors"]) == 0
    token = capsys.readouterr().out.strip()
    identity = LocalTokenVerifier(local_jwt_secret()).verify(token)
    assert identity.subject == "carol" and identity.groups == ("admin", "editors")


def test_token_uses_the_secret_of_the_environment_first(capsys, monkeypatch):
    monkeypatch.setenv("SLEEVE_JWT_SECRET", "a-secret-from-the-shell-of-32-bytes!!")
    main(["token", "alice"])
    token = capsys.readouterr().out.strip()
    assert LocalTokenVerifier("a-secret-from-the-shell-of-32-bytes!!").verify(token).groups == ()
