"""Clients of the outside services Sleeve talks to, one module per service, each behind a Protocol of ``base``.

Every client wraps one ``httpx.Client`` built by ``chalicelib.container`` from settings (``providers/http.py``),
translates failures once into the ``ProviderError`` tree of ``base`` and parses responses into pydantic models of the
documented shapes, so that a changed API fails loudly at the boundary.
"""
