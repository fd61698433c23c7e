"""URL-import route of the media library: ``POST /media/imports`` checks the URL, creates a pending asset and queues
its fetch. The rules live in ``providers/url_fetch.py`` (the SSRF guard), the work in ``services/imports.py`` and the
imports worker (``workers/imports.py``); the asset is rendered by ``services/media_views.py``."""

from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.api.contract import Answer, Reply, operation
from chalicelib.api.responses import identity_of
from chalicelib.models.api import CreateImportRequest
from chalicelib.models.views import MediaAssetView

bp = Blueprint(__name__)

TAG = "media"


@operation(
    bp,
    "POST",
    "/media/imports",
    tag=TAG,
    body=CreateImportRequest,
    answers=[
        Answer(
            202,
            MediaAssetView,
            description="The import is queued: the asset is `pending`; `GET /media/{asset_id}` shows it `ready`, or "
            "`failed` with `error.code` `url_not_allowed`, `too_large`, `too_many_redirects`, `fetch_failed`, "
            "`not_an_image` or `dead_lettered`.",
            creates={"asset_id": "$response.body#/id"},
        )
    ],
    errors=["url_not_allowed", "name_parts_incomplete", "queue_unavailable"],
)
def create_media_import(body: CreateImportRequest) -> Reply:
    """Import an image from a URL into the library.

    The URL must be `https` and its host must resolve only to addresses on the public internet: loopback, private,
    carrier-grade NAT, link-local (the cloud metadata address too), multicast and reserved IPv4 addresses, IPv6
    unique-local, link-local and site-local addresses, and IPv6 forms embedding such an IPv4 address (IPv4-mapped,
    NAT64, 6to4, Teredo) answer 422 `url_not_allowed` with `details.reason`. The worker checks every address again
    when it connects and connects to the address it checked, follows at most `import_max_redirects` redirects (each
    checked again), reads at most `import_max_bytes` bytes, and keeps the file only if its bytes are a JPEG, PNG,
    WebP or GIF image; the image then goes through the same ingest as an upload, with `source` `import` (or `stock`)
    and the `source_url` kept.
    """
    from chalicelib import container

    asset = container.get_import_service().request(identity_of(bp.current_request), body)
    return Reply(container.get_media_views().view(asset), status=202)
