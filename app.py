"""Sleeve's Chalice application: registers the blueprints and the middleware. No logic lives here."""

from chalice.app import Chalice, CORSConfig

from chalicelib.api import (
    artwork,
    attachments,
    collaborators,
    docs,
    generate,
    health,
    imports,
    jobs,
    media,
    media_search,
    media_share_links,
    meta,
    preferences,
    releases,
    share_links,
    sync,
    tracks,
    webhooks,
)
from chalicelib.api.fallback import register_fallback_routes
from chalicelib.api.middleware import authenticate, correlate, normalise_errors
from chalicelib.workers import backfill as backfill_workers
from chalicelib.workers import cleanup, dsp_sync, ingest
from chalicelib.workers import generate as generate_workers
from chalicelib.workers import imports as import_workers
from chalicelib.workers import jobs as job_workers

app = Chalice(app_name="sleeve")
# Browser apps call the API from their own origins with bearer tokens (no cookies), so any origin may.
app.api.cors = CORSConfig(
    allow_origin="*",
    allow_headers=["Authorization", "Content-Type", "If-Match"],
    expose_headers=["ETag", "Location", "X-Request-Id"],
    max_age=600,
)
app.register_middleware(correlate, "http")
app.register_middleware(normalise_errors, "http")
app.register_middleware(authenticate, "http")

blueprints = (
    health.bp,
    meta.bp,
    docs.bp,
    releases.bp,
    tracks.bp,
    collaborators.bp,
    artwork.bp,
    share_links.bp,
    media_share_links.bp,
    media.bp,
    sync.bp,
    jobs.bp,
    attachments.bp,
    media_search.bp,
    imports.bp,
    preferences.bp,
    webhooks.bp,
    ingest.bp,
    cleanup.bp,
    dsp_sync.bp,
    job_workers.bp,
    backfill_workers.bp,
    import_workers.bp,
    generate.bp,
    generate_workers.bp,
)
for blueprint in blueprints:
    app.register_blueprint(blueprint)
# Last: 404 for unknown paths, 405 with Allow for missing methods, HEAD for every GET route (api/fallback.py).
register_fallback_routes(app)
