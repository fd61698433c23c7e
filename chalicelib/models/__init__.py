"""Pydantic models: domain objects (``domain``) and API requests/responses (``api``)."""
