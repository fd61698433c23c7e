"""The fuzz run's custom check: owner B's token on owner A's ids neither succeeds nor changes A's data.

Before Schemathesis sends one of owner A's requests whose path ids all came from A's own successful answers, the
probe sends the same request with owner B's token; for a write it also reads A's data (the innermost documented
``GET`` at the request's path or an ancestor, as A) before and after. The check ``cross_owner_isolation`` then fails
the case when B's request succeeded (2xx), when A's data changed between the two reads, or when A's request succeeded
and B's did not answer 404 (403 for an administrator-only route: B is no administrator), since any other answer tells
B that the id exists. The probe goes first so that a ``DELETE`` or a lifecycle move is tried by B on the state A sees.
Only valid cases are copied (an invalid one is refused before any lookup), each operation until B's copy has been tried
on two requests that A then made successfully, each set of ids twice at most: every operation A reaches is covered
without doubling the run.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests
import schemathesis
from schemathesis import GenerationMode

from chalicelib.models.media import KNOWN_OWNER_TYPES

#: The ``x-sleeve-auth`` values of routes that take a token (``none`` routes are public).
TOKEN_ROUTES = frozenset({"bearer", "admin"})
#: What B may answer on A's ids: 404 everywhere (nothing says the id exists), 403 ``admin_only`` on an
#: administrator-only route (that refusal comes before any lookup).
EXPECTED_FOR_OTHER_OWNER = {"bearer": frozenset({404}), "admin": frozenset({403, 404})}
# Values collected from A's answers are ids, tokens and names; long text is not a path id.
_MAX_OWNED_VALUE = 200


def sleeve_auth(operation: Any) -> str:
    """The ``x-sleeve-auth`` extension of a Schemathesis ``APIOperation``: ``none``, ``bearer`` or ``admin``."""
    return str(operation.definition.raw.get("x-sleeve-auth", "bearer"))


@dataclass
class ProbeResult:
    """What owner B's copy of one of A's requests got, and A's data read before and after it."""

    method: str
    path: str
    status: int
    body: str
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass
class CrossOwnerProbe:
    """Sends owner B's copy of A's requests (see the module docstring) and keeps the results for the check.

    ``base_url``: the API's root URL; ``owner_b``: B's bearer token; ``owner_a``: A's, for the reads. ``probes``
    counts B's requests, ``reads`` A's snapshot reads (neither is a Schemathesis case).
    """

    base_url: str
    owner_a: str
    owner_b: str
    timeout_s: float = 30.0
    settle_after: int = 2
    tries_per_ids: int = 2
    probes: int = 0
    reads: int = 0
    owned: set[str] = field(default_factory=set)
    settled: Counter[str] = field(default_factory=Counter)
    tried: Counter[tuple[str, tuple[tuple[str, str], ...]]] = field(default_factory=Counter)
    results: dict[str, ProbeResult] = field(default_factory=dict)
    session: requests.Session = field(default_factory=requests.Session)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def remember(self, case: Any, response: Any) -> None:
        """Keep every short string of A's 2xx JSON answers and of its successful request's path: A's ids."""
        if not 200 <= response.status_code < 300 or sleeve_auth(case.operation) not in TOKEN_ROUTES:
            return
        values = {str(value) for value in (case.path_parameters or {}).values()}
        with contextlib.suppress(ValueError):  # not JSON: no ids
            values.update(_strings(response.json()))
        with self.lock:
            self.owned.update(value for value in values if 0 < len(value) <= _MAX_OWNED_VALUE)

    def wants(self, case: Any) -> bool:
        """Whether ``case`` is a valid request (not one of Schemathesis' invalid ones) on a token route whose path ids
        all came from A's own answers, its operation has fewer than ``settle_after`` settled probes (B's copy tried
        on a request A then made successfully) and these ids fewer than ``tries_per_ids`` probes."""
        parameters = case.path_parameters or {}
        if sleeve_auth(case.operation) not in TOKEN_ROUTES or not parameters or _is_negative(case):
            return False
        # An owner type other than release and track (scene, character…) is the client's own: each caller has its own
        # namespace of them (ATTACH#{caller}#{type}#{id}, share links likewise), so B's GET of /owners/scene/x/media
        # answers B's own empty list and B's POST of a share link makes B's own link, by design; nothing of A's is
        # named. Release and track owners are Sleeve's objects and stay checked (B must get 404).
        owner_type = parameters.get("owner_type")
        if owner_type is not None and str(owner_type) not in KNOWN_OWNER_TYPES:
            return False
        with self.lock:
            if self.settled[case.operation.label] >= self.settle_after or self.tried[_key(case)] >= self.tries_per_ids:
                return False
            return all(str(value) in self.owned for value in parameters.values())

    def probe(self, case: Any) -> None:
        """Read A's data, send ``case`` with B's token, read again; the result waits for the check.

        A's release also changes on its own: a release-now or a sync request of A's starts a DSP sync in the stack's
        worker, which writes the release a moment later; a job A started (``POST /media/generate``) or an asset being
        ingested moves on in its worker too. So when A's data changed around B's refused request, the probe waits
        until that release's sync has settled (elsewhere: until A's data reads the same twice a second apart) and
        tries once more; B's copy fails the check only if its first try succeeded or A's data changes again (an
        isolation bug repeats, a worker's step does not).
        """
        if not self.wants(case):
            return
        # A read changes nothing by contract (and not_a_server_error/the schema checks watch it), so only the copies
        # of writes pay for reading A's data around them.
        reads = [] if case.method.upper() in ("GET", "HEAD") else self._snapshot_paths(case)
        result = self._try(case, reads)
        release_id = (case.path_parameters or {}).get("release_id")
        if result.before != result.after and not 200 <= result.status < 300:
            if release_id is not None:
                self._wait_for_sync(str(release_id))
            else:  # a job A started (generate) or an asset being ingested moves on its own: wait until it rests
                self._wait_until_still(reads)
            result = self._try(case, reads)
        with self.lock:
            self.results[case.id] = result

    def _try(self, case: Any, reads: list[str]) -> ProbeResult:
        before = self._read(reads)
        request = case.as_transport_kwargs(base_url=self.base_url)
        headers = {name: value for name, value in request.pop("headers").items() if name.lower() != "authorization"}
        headers["Authorization"] = f"Bearer {self.owner_b}"
        answer = self.session.request(headers=headers, timeout=self.timeout_s, allow_redirects=False, **request)
        after = self._read(reads)
        with self.lock:
            self.probes += 1
            self.tried[_key(case)] += 1
        return ProbeResult(
            method=case.method.upper(),
            path=case.formatted_path,
            status=answer.status_code,
            body=answer.text[:500],
            before=before,
            after=after,
        )

    def _wait_until_still(self, paths: list[str], timeout_s: float = 20.0, quiet_s: float = 1.0) -> None:
        """Wait (at most ``timeout_s``) until A's data at ``paths`` reads the same twice ``quiet_s`` apart: a job's
        worker or the ingest worker has stopped writing it."""
        deadline = time.monotonic() + timeout_s
        last = self._read(paths)
        while time.monotonic() < deadline:
            time.sleep(quiet_s)
            current = self._read(paths)
            if current == last:
                return
            last = current

    def _wait_for_sync(self, release_id: str, timeout_s: float = 20.0) -> None:
        """Wait (at most ``timeout_s``) until A's release has no DSP sync queued or running."""
        deadline = time.monotonic() + timeout_s
        path = f"{self.base_url}/releases/{quote(release_id, safe='')}/sync/status"
        while time.monotonic() < deadline:
            answer = self.session.get(path, headers={"Authorization": f"Bearer {self.owner_a}"}, timeout=self.timeout_s)
            if answer.status_code != 200 or answer.json().get("state") not in ("queued", "running"):
                return
            time.sleep(0.2)

    def verdict(self, case: Any, response: Any) -> str | None:
        """Why B's copy of ``case`` breaks isolation, or ``None``; A's ``response`` decides what B must get."""
        with self.lock:
            result = self.results.pop(case.id, None)
        if result is None:
            return None
        problems = []
        if 200 <= result.status < 300:
            problems.append(f"owner B's copy succeeded ({result.status})")
        expected = EXPECTED_FOR_OTHER_OWNER[sleeve_auth(case.operation)]
        if 200 <= response.status_code < 300:
            with self.lock:
                self.settled[case.operation.label] += 1
        if 200 <= response.status_code < 300 and result.status not in expected:
            problems.append(
                f"owner A got {response.status_code} but owner B got {result.status}, "
                f"not {' or '.join(map(str, sorted(expected)))}: B learns the id exists"
            )
        changed = sorted(path for path in result.before if result.before[path] != result.after.get(path))
        if changed:
            problems.append(f"owner A's data changed under owner B's request: {', '.join(changed)}")
        if not problems:
            return None
        return (
            "; ".join(problems)
            + f".\nOwner B's request: {result.method} {result.path} (the request above, with owner B's token) -> "
            + f"{result.status} {result.body}"
        )

    def _snapshot_paths(self, case: Any) -> list[str]:
        """A's read of what ``case`` addresses: the innermost documented ``GET`` (no required query) at ``case``'s
        path or an ancestor of it, e.g. the track for a track, the share-link list for a share link, the release for
        a lifecycle move."""
        parameters = case.path_parameters or {}
        segments = case.operation.path.strip("/").split("/")
        for end in range(len(segments), 0, -1):
            template = "/" + "/".join(segments[:end])
            if _documented_get(case.operation.schema, template) is None:
                continue
            path = template
            for name, value in parameters.items():
                path = path.replace("{" + name + "}", quote(str(value), safe=""))
            return [path]
        return []

    def _read(self, paths: list[str]) -> dict[str, Any]:
        snapshot = {}
        for path in paths:
            answer = self.session.get(
                self.base_url + path, headers={"Authorization": f"Bearer {self.owner_a}"}, timeout=self.timeout_s
            )
            try:
                body: Any = _without_signatures(answer.json())
            except ValueError:
                body = answer.text
            snapshot[path] = (answer.status_code, body)
        with self.lock:
            self.reads += len(paths)
        return snapshot


def _is_negative(case: Any) -> bool:
    """Whether Schemathesis made ``case`` invalid on purpose: A's copy will be refused, so B's teaches little."""
    meta = case.meta
    return meta is not None and meta.generation.mode == GenerationMode.NEGATIVE


def _key(case: Any) -> tuple[str, tuple[tuple[str, str], ...]]:
    return case.operation.label, tuple(sorted((name, str(value)) for name, value in case.path_parameters.items()))


def _documented_get(schema: Any, template: str) -> Any | None:
    try:
        operation = schema[template]["GET"]
    except LookupError:  # no such path, or no GET on it
        return None
    required_query = [parameter for parameter in operation.query if parameter.is_required]
    return None if required_query or sleeve_auth(operation) not in TOKEN_ROUTES else operation


def _strings(body: Any) -> Iterator[str]:
    if isinstance(body, dict):
        for value in body.values():
            yield from _strings(value)
    elif isinstance(body, list):
        for value in body:
            yield from _strings(value)
    elif isinstance(body, str):
        yield body


#: Fields that give a presigned URL's expiry (media views: ``url_expires_at`` on the asset and each variant).
_SIGNED_EXPIRY_FIELDS = frozenset({"url_expires_at"})


def _without_signatures(body: Any) -> Any:
    """``body`` with the query of every URL dropped: presigned URLs are signed anew on each read."""
    if isinstance(body, dict):
        # A presigned URL's expiry is the read's time plus its TTL: it moves with every read, as the signature does.
        return {key: _without_signatures(value) for key, value in body.items() if key not in _SIGNED_EXPIRY_FIELDS}
    if isinstance(body, list):
        return [_without_signatures(value) for value in body]
    if isinstance(body, str) and body.startswith(("http://", "https://")):
        return urlunsplit(urlsplit(body)._replace(query=""))
    return body


# The probe of the run in progress; Schemathesis' hooks and checks are process-wide registrations.
_ACTIVE: CrossOwnerProbe | None = None


def activate(probe: CrossOwnerProbe | None) -> None:
    """Make ``probe`` the one the hooks and the check below use (``None``: they do nothing)."""
    global _ACTIVE
    _ACTIVE = probe


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Schemathesis hook: owner B's copy goes first (see the module docstring)."""
    if _ACTIVE is not None:
        _ACTIVE.probe(case)


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """Schemathesis hook: A's successful answers name A's ids."""
    if _ACTIVE is not None:
        _ACTIVE.remember(case, response)


@schemathesis.check
def cross_owner_isolation(ctx: Any, response: Any, case: Any) -> bool | None:
    """Owner B's token on owner A's ids: no 2xx, no change to A's data, 404 where A succeeded."""
    if _ACTIVE is None:
        return None
    problem = _ACTIVE.verdict(case, response)
    if problem is not None:
        raise AssertionError(problem)
    return None


def dumps(value: Any) -> str:
    """Compact JSON for failure messages."""
    return json.dumps(value, sort_keys=True)[:500]
