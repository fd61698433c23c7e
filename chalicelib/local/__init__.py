"""The embedded local stack: moto server, provisioning from infra/template.json, the SQS/schedule pump, the API.

Run it with ``python -m chalicelib.local`` (``make run``); from Python, ``start_stack()`` (see
:mod:`chalicelib.local.stack`) or ``spawn_stack()`` for a separate process (:mod:`chalicelib.local.process`).
Nothing here is imported by the Lambda code path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.local.process import StackProcess, spawn_stack
    from chalicelib.local.provision import ProvisionResult, provision
    from chalicelib.local.stack import Stack, start_stack

__all__ = ["ProvisionResult", "Stack", "StackProcess", "provision", "spawn_stack", "start_stack"]

_EXPORTS = {
    "ProvisionResult": "chalicelib.local.provision",
    "provision": "chalicelib.local.provision",
    "Stack": "chalicelib.local.stack",
    "start_stack": "chalicelib.local.stack",
    "StackProcess": "chalicelib.local.process",
    "spawn_stack": "chalicelib.local.process",
}


def __getattr__(name: str) -> Any:
    # Lazy, so that importing one submodule (e.g. provision in a mock_aws test) does not start importing moto's server.
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
