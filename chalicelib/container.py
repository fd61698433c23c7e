"""The composition root: lazy ``get_*()`` factories for settings-bound clients, repositories and services.

Nothing is built at import time. Tests call ``reset_container()`` after changing the environment.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.config import get_settings, reset_settings

if TYPE_CHECKING:
    from chalicelib.auth import TokenVerifier
    from chalicelib.providers.base import DspProvider
    from chalicelib.providers.generation import ImageGenerator
    from chalicelib.providers.upscaling import Upscaler
    from chalicelib.providers.url_fetch import UrlFetcher
    from chalicelib.services.artwork import ArtworkService
    from chalicelib.services.attachments import AttachmentService
    from chalicelib.services.backfill import BackfillService
    from chalicelib.services.cleanup import CleanupService
    from chalicelib.services.dsp_sync import DspSyncService
    from chalicelib.services.enhancement import EnhancementService, JobDriver
    from chalicelib.services.generation import GenerationService
    from chalicelib.services.imports import ImportService
    from chalicelib.services.ingest import IngestService
    from chalicelib.services.jobs import JobService
    from chalicelib.services.media import MediaService
    from chalicelib.services.media_share_links import MediaShareLinkService
    from chalicelib.services.media_views import MediaViews
    from chalicelib.services.releases import ReleaseService
    from chalicelib.services.share_links import ShareLinkService
    from chalicelib.store.assets import AssetRepository
    from chalicelib.store.attachments import AttachmentRepository
    from chalicelib.store.catalogue import CatalogueRepository
    from chalicelib.store.jobs import JobRepository
    from chalicelib.store.media import MediaRepository
    from chalicelib.store.media_index import MediaIndex
    from chalicelib.store.objects import ObjectStore
    from chalicelib.store.preferences import PreferencesRepository
    from chalicelib.store.queues import MessageQueue
    from chalicelib.store.share_links import ShareLinkRepository


@lru_cache(maxsize=1)
def get_s3_client() -> Any:
    """A boto3 S3 client (SigV4; path-style addressing when an endpoint such as moto's is configured).

    With an endpoint (moto, or an S3-compatible store such as MinIO or R2) checksums are sent and asked for only
    where the operation requires one (``when_required``): botocore ≥ 1.36 otherwise adds ``x-amz-checksum-crc32`` /
    ``x-amz-sdk-checksum-algorithm`` to every PutObject and ``x-amz-checksum-mode`` to every GetObject, which stores
    other than AWS S3 may refuse (botocore's "Data Integrity Protections" defaults; README "Delivery"). Against AWS
    (no endpoint) the defaults stay.

    Built from its own Session: boto3's default session is not thread-safe, and locally the API and the workers share
    one process.
    """
    import boto3.session
    from botocore.config import Config

    settings = get_settings()
    style = "path" if settings.aws_endpoint_url else "auto"
    checksums = "when_required" if settings.aws_endpoint_url else "when_supported"
    return boto3.session.Session().client(
        "s3",
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": style},
            request_checksum_calculation=checksums,
            response_checksum_validation=checksums,
        ),
    )


@lru_cache(maxsize=1)
def get_sqs_client() -> Any:
    """A boto3 SQS client (its own Session, like ``get_s3_client``)."""
    import boto3.session

    settings = get_settings()
    return boto3.session.Session().client(
        "sqs", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
    )


@lru_cache(maxsize=1)
def get_sync_queue() -> MessageQueue:
    """The DSP-sync queue (``sync_queue_name``)."""
    from chalicelib.store.queues import MessageQueue

    return MessageQueue(get_sqs_client(), get_settings().sync_queue_name)


@lru_cache(maxsize=1)
def get_cleanup_queue() -> MessageQueue:
    """The cleanup queue (``cleanup_queue_name``): deleted releases whose objects and items are still to remove."""
    from chalicelib.store.queues import MessageQueue

    return MessageQueue(get_sqs_client(), get_settings().cleanup_queue_name)


@lru_cache(maxsize=1)
def get_jobs_queue() -> MessageQueue:
    """The jobs queue (``jobs_queue_name``): ``job.run`` and ``job.prediction`` messages of AI jobs."""
    from chalicelib.store.queues import MessageQueue

    return MessageQueue(get_sqs_client(), get_settings().jobs_queue_name)


@lru_cache(maxsize=1)
def get_imports_queue() -> MessageQueue:
    """The queue of URL imports (``import.run``) of the media library (``imports_queue_name``)."""
    from chalicelib.store.queues import MessageQueue

    return MessageQueue(get_sqs_client(), get_settings().imports_queue_name)


@lru_cache(maxsize=1)
def get_generate_queue() -> MessageQueue:
    """The image generation queue (``generate_queue_name``): ``job.run``, ``job.prediction`` of ``generate`` jobs."""
    from chalicelib.store.queues import MessageQueue

    return MessageQueue(get_sqs_client(), get_settings().generate_queue_name)


@lru_cache(maxsize=1)
def get_backfill_queue() -> MessageQueue:
    """The queue of the legacy backfill's items (``backfill.release``, ``backfill.asset``) (``backfill_queue_name``)."""
    from chalicelib.store.queues import MessageQueue

    return MessageQueue(get_sqs_client(), get_settings().backfill_queue_name)


@lru_cache(maxsize=1)
def _bound_records() -> bool:
    from chalicelib.store.records import bind_records

    settings = get_settings()
    bind_records(table_name=settings.table_name, region=settings.aws_region, host=settings.aws_endpoint_url)
    return True


@lru_cache(maxsize=1)
def get_object_store() -> ObjectStore:
    """The media bucket."""
    from chalicelib.store.objects import ObjectStore

    return ObjectStore(get_s3_client(), get_settings().bucket_name)


@lru_cache(maxsize=1)
def get_catalogue_repository() -> CatalogueRepository:
    """Releases, tracks, collaborators, history and ISRC claims in the table."""
    from chalicelib.store.catalogue import CatalogueRepository

    _bound_records()
    return CatalogueRepository()


@lru_cache(maxsize=1)
def get_asset_repository() -> AssetRepository:
    """Media assets in the table."""
    from chalicelib.store.assets import AssetRepository

    _bound_records()
    return AssetRepository()


@lru_cache(maxsize=1)
def get_attachment_repository() -> AttachmentRepository:
    """Attachments in the table."""
    from chalicelib.store.attachments import AttachmentRepository

    _bound_records()
    return AttachmentRepository()


@lru_cache(maxsize=1)
def get_share_link_repository() -> ShareLinkRepository:
    """Share links in the table."""
    from chalicelib.store.share_links import ShareLinkRepository

    _bound_records()
    return ShareLinkRepository()


@lru_cache(maxsize=1)
def get_token_verifier() -> TokenVerifier:
    """HS256 verification in the ``local`` stage, Cognito user-pool verification elsewhere."""
    from chalicelib.auth import CognitoTokenVerifier, LocalTokenVerifier

    settings = get_settings()
    if settings.stage == "local":
        assert settings.jwt_secret is not None  # enforced by Settings
        return LocalTokenVerifier(settings.jwt_secret.get_secret_value())
    assert settings.cognito_user_pool_id is not None and settings.cognito_app_client_id is not None  # by Settings
    return CognitoTokenVerifier(
        region=settings.aws_region,
        user_pool_id=settings.cognito_user_pool_id,
        app_client_id=settings.cognito_app_client_id,
    )


@lru_cache(maxsize=1)
def get_dsp_providers() -> list[DspProvider]:
    """One DSP client per service named in ``settings.dsp_providers``, in that order (the merge priority).

    Clients without credentials are built too: they answer ``not_configured_reason()`` and the sync reports them
    ``skipped``. Built once per process (and cleared by ``reset_container``), so a warm worker reuses their
    connections, cached tokens and MusicBrainz's process-wide rate limiter. Imports httpx: workers only.
    """
    settings = get_settings()
    providers: list[DspProvider] = []
    for name in settings.dsp_providers:
        if name == "spotify":
            from chalicelib.providers.spotify import SpotifyClient

            providers.append(SpotifyClient.from_settings(settings))
        elif name == "apple_music":
            from chalicelib.providers.apple_music import AppleMusicClient

            providers.append(AppleMusicClient.from_settings(settings))
        else:
            from chalicelib.providers.musicbrainz import MusicBrainzClient

            providers.append(MusicBrainzClient.from_settings(settings))
    return providers


_DSP_PROVIDERS = get_dsp_providers


@lru_cache(maxsize=1)
def get_upscalers() -> dict[str, Upscaler]:
    """Every upscaler by name (``replicate``, ``local``, ``lanczos``), built once per process; which one a new job
    uses is ``enhancement_policy.choose_provider``'s choice, and a job keeps it. Replicate without a token and the
    local Real-ESRGAN without the laptop extra are built too and say why they are off (``unavailable_reason``).
    Imports httpx: called by the enhancement request, the cancel of a Replicate job and the jobs workers only."""
    from chalicelib.providers.lanczos import LanczosUpscaler
    from chalicelib.providers.local_upscaler import LocalRealEsrgan
    from chalicelib.providers.replicate import ReplicateUpscaler

    settings = get_settings()
    return {
        "replicate": ReplicateUpscaler(settings),
        "local": LocalRealEsrgan(settings),
        "lanczos": LanczosUpscaler(settings),
    }


_UPSCALERS = get_upscalers


@lru_cache(maxsize=1)
def get_image_generators() -> dict[str, ImageGenerator]:
    """Every image generator by name (``replicate``: Replicate's text-to-image, ``typographic``: the local cover),
    built once per process; which one a new job uses is ``generation.choose_generator``'s choice, and a job keeps it.
    Replicate without a token is built too and says ``not_configured``. Imports httpx and Pillow: workers only."""
    from chalicelib.providers.replicate_generate import ReplicateImageGenerator
    from chalicelib.providers.typographic import TypographicGenerator

    return {"replicate": ReplicateImageGenerator(get_settings()), "typographic": TypographicGenerator()}


_IMAGE_GENERATORS = get_image_generators


@lru_cache(maxsize=1)
def get_job_repository() -> JobRepository:
    """Jobs in the table."""
    from chalicelib.store.jobs import JobRepository

    _bound_records()
    return JobRepository()


@lru_cache(maxsize=1)
def get_preferences_repository() -> PreferencesRepository:
    """Owners' artwork preferences in the table."""
    from chalicelib.store.preferences import PreferencesRepository

    _bound_records()
    return PreferencesRepository()


@lru_cache(maxsize=1)
def get_job_service() -> JobService:
    """The job routes (read, list, cancel)."""
    from chalicelib.services.jobs import JobService

    return JobService(get_job_repository(), get_upscalers)


@lru_cache(maxsize=1)
def get_enhancement_service() -> EnhancementService:
    """Cover enhancement: the request and preference routes, the webhook hand-off, the ingest hook, the jobs worker,
    its dead letters, the reaper and the poller."""
    from chalicelib.services.enhancement import EnhancementService
    from chalicelib.store.webhook_receipts import WebhookReceiptRepository

    return EnhancementService(
        settings=get_settings(),
        catalogue=get_catalogue_repository(),
        jobs=get_job_repository(),
        preferences=get_preferences_repository(),
        receipts=WebhookReceiptRepository(),
        assets=get_asset_repository(),
        attachments=get_attachment_repository(),
        objects=get_object_store(),
        queue=get_jobs_queue(),
        upscalers=get_upscalers,
        # By name at call time: tests swap the container's factories.
        drivers=lambda: _job_drivers(),
    )


def _job_drivers() -> dict[str, JobDriver]:
    """The services of the job kinds other than upscaling, for the shared reaper, poller, webhook and jobs worker."""
    return {"generate": get_generation_service()}


@lru_cache(maxsize=1)
def get_generation_service() -> GenerationService:
    """AI generation: ``POST /media/generate``, the generate worker and its dead letters, the ingest hook."""
    from chalicelib.services.generation import GenerationService

    return GenerationService(
        settings=get_settings(),
        jobs=get_job_repository(),
        assets=get_asset_repository(),
        objects=get_object_store(),
        queue=get_generate_queue(),
        # By name at call time, like the upscalers (tests swap the factory).
        generators=lambda: get_image_generators(),
        reindex=lambda before, after: get_media_index().reindex(before, after),
    )


class IngestHook(Protocol):
    """A service told about every asset whose ingest ended (``workers/ingest.py``)."""

    def after_ingest(self, asset_id: str) -> str:
        """React to the end of ``asset_id``'s ingest (idempotent); a word for the log."""
        ...


def get_ingest_hooks() -> tuple[IngestHook, ...]:
    """What runs after every ingest, in order: the enhancement service (ends an upscale job, starts an automatic
    one), then the media library's hooks (each returns ``ignored`` for assets that are not its own)."""
    return (get_enhancement_service(), get_generation_service(), get_import_service())


@lru_cache(maxsize=1)
def get_release_service() -> ReleaseService:
    """The release service (with its lifecycle, track and collaborator services)."""
    from chalicelib.services.releases import ReleaseService

    return ReleaseService(get_catalogue_repository(), get_sync_queue(), cleanup_queue=get_cleanup_queue())


@lru_cache(maxsize=1)
def get_artwork_service() -> ArtworkService:
    """Artwork uploads and views."""
    from chalicelib.services.artwork import ArtworkService

    return ArtworkService(
        settings=get_settings(),
        releases=get_release_service(),
        assets=get_asset_repository(),
        attachments=get_attachment_repository(),
        objects=get_object_store(),
        # By name at call time: built lazily (the enhancement service is only needed for a cover with a job).
        enhancements=lambda: get_enhancement_service(),
    )


@lru_cache(maxsize=1)
def get_import_service() -> ImportService:
    """URL imports: ``POST /media/imports``, ``POST /media``'s album art, the backfill's covers, the imports worker
    and its dead letters, the ingest hook. The SSRF guard (httpx) is built on first use, never at import."""
    from chalicelib.services.imports import ImportService
    from chalicelib.store.imports import ImportLinkRepository
    from chalicelib.store.media import MediaRepository

    def fetcher() -> UrlFetcher:
        from chalicelib.providers.url_fetch import UrlFetcher

        return UrlFetcher.from_settings(get_settings())

    _bound_records()
    return ImportService(
        settings=get_settings(),
        assets=get_asset_repository(),
        links=ImportLinkRepository(),
        objects=get_object_store(),
        queue=get_imports_queue(),
        fetcher=fetcher,
        name_seq=MediaRepository().next_name_seq,
        # By name at call time: tests swap the container's factories.
        reindex=lambda before, after: get_media_index().reindex(before, after),
    )


@lru_cache(maxsize=1)
def get_media_index() -> MediaIndex:
    """The library's search and tag index (term and tag items beside each asset)."""
    from chalicelib.store.media_index import MediaIndex

    _bound_records()
    return MediaIndex()


@lru_cache(maxsize=1)
def get_attachment_service() -> AttachmentService:
    """The media library's attachments (routes, an asset's delete, the release cleanup, collection share links)."""
    from chalicelib.services.attachments import AttachmentService
    from chalicelib.store.media_attachments import MediaAttachmentRepository

    _bound_records()
    return AttachmentService(
        catalogue=get_catalogue_repository(),
        attachments=MediaAttachmentRepository(),
        pointers=get_attachment_repository(),
        # By name at call time: built when a listing is made.
        views=lambda: get_media_views().view,
    )


@lru_cache(maxsize=1)
def get_media_views() -> MediaViews:
    """Renders media assets (``MediaAssetView``) with their delivery URLs; shared by every part of the library."""
    from chalicelib.services.media_views import MediaViews

    return MediaViews(settings=get_settings(), objects=get_object_store())


@lru_cache(maxsize=1)
def get_media_repository() -> MediaRepository:
    """The library's lists, edits, delete tombstones and name counters of assets."""
    from chalicelib.store.media import MediaRepository

    _bound_records()
    return MediaRepository()


@lru_cache(maxsize=1)
def get_media_service() -> MediaService:
    """The media library's core: uploads, metadata assets, lists, edits, deletes and bulk actions."""
    from chalicelib.services.media import MediaService

    return MediaService(
        settings=get_settings(),
        assets=get_asset_repository(),
        media=get_media_repository(),
        objects=get_object_store(),
        # By name at call time: the other parts' services are built when first needed.
        index=lambda: get_media_index(),
        attachments=lambda: get_attachment_service(),
        imports=lambda: get_import_service(),
        share_links=lambda: get_share_link_repository(),
    )


@lru_cache(maxsize=1)
def get_ingest_service() -> IngestService:
    """The one ingest path (imports Pillow: workers only)."""
    from chalicelib.services.ingest import IngestService

    return IngestService(
        settings=get_settings(),
        assets=get_asset_repository(),
        attachments=get_attachment_repository(),
        catalogue=get_catalogue_repository(),
        objects=get_object_store(),
    )


@lru_cache(maxsize=1)
def get_share_link_service() -> ShareLinkService:
    """Share links and public downloads."""
    from chalicelib.services.share_links import ShareLinkService

    return ShareLinkService(
        settings=get_settings(),
        releases=get_release_service(),
        artwork=get_artwork_service(),
        links=get_share_link_repository(),
        objects=get_object_store(),
    )


@lru_cache(maxsize=1)
def get_media_share_link_service() -> MediaShareLinkService:
    """Share links of media assets and collections (an owner object's attached media); the attachment service and
    the views are built on first use, so a release link's page never builds them."""
    from chalicelib.services.media_share_links import MediaShareLinkService

    return MediaShareLinkService(
        settings=get_settings(),
        assets=get_asset_repository(),
        collections=get_attachment_service,
        links=get_share_link_repository(),
        objects=get_object_store(),
        views=get_media_views,
    )


@lru_cache(maxsize=1)
def get_cleanup_service() -> CleanupService:
    """The release cleanup (the cleanup worker and its schedule)."""
    from chalicelib.services.cleanup import CleanupService

    return CleanupService(
        catalogue=get_catalogue_repository(),
        assets=get_asset_repository(),
        attachments=get_attachment_repository(),
        links=get_share_link_repository(),
        objects=get_object_store(),
        queue=get_cleanup_queue(),
        jobs=get_job_repository(),
        media_attachments=get_attachment_service(),
    )


@lru_cache(maxsize=1)
def get_dsp_sync_service() -> DspSyncService:
    """The DSP sync (routes, worker, DLQ consumer, schedule). The provider clients are built on the worker's first
    sync (``get_dsp_providers``), so the API's import path never loads httpx."""
    from chalicelib.services.catalogue import Catalogue
    from chalicelib.services.dsp_sync import DspSyncService
    from chalicelib.store.sync_state import SyncStateRepository

    return DspSyncService(
        Catalogue(get_catalogue_repository()),
        SyncStateRepository(),
        get_sync_queue(),
        get_dsp_providers,
        get_settings(),
    )


@lru_cache(maxsize=1)
def get_backfill_service() -> BackfillService:
    """The legacy backfill: the operator's ``backfill`` command (Scan and fan-out), its worker and dead letters. The
    import service and the search index are built on the first item that needs them."""
    from chalicelib.services.backfill import BackfillService
    from chalicelib.store.backfill import BackfillStore

    _bound_records()
    return BackfillService(
        store=BackfillStore(),
        releases=get_catalogue_repository(),
        assets=get_asset_repository(),
        covers=get_attachment_repository(),
        queue=get_backfill_queue(),
        # By name at call time: tests swap the container's factories.
        importer=lambda: get_import_service(),
        media_index=lambda: get_media_index(),
    )


_FACTORIES = (
    get_s3_client,
    get_sqs_client,
    get_sync_queue,
    get_cleanup_queue,
    get_jobs_queue,
    get_imports_queue,
    get_generate_queue,
    get_backfill_queue,
    get_backfill_service,
    _bound_records,
    get_object_store,
    get_catalogue_repository,
    get_asset_repository,
    get_attachment_repository,
    get_share_link_repository,
    get_token_verifier,
    get_dsp_providers,
    get_release_service,
    get_artwork_service,
    get_ingest_service,
    get_share_link_service,
    get_cleanup_service,
    get_dsp_sync_service,
    get_upscalers,
    get_job_repository,
    get_preferences_repository,
    get_job_service,
    get_enhancement_service,
    get_image_generators,
    get_generation_service,
    get_media_views,
    get_media_repository,
    get_media_service,
    get_media_index,
    get_attachment_service,
    get_media_share_link_service,
    get_import_service,
)


def reset_container() -> None:
    """Forget every built object and the settings (tests change the environment between cases); the DSP clients and
    upscalers built so far are closed first (their httpx connection pools)."""
    # The factory itself, not the module attribute: tests may swap ``get_dsp_providers`` for a plain function.
    if _DSP_PROVIDERS.cache_info().currsize:
        for provider in _DSP_PROVIDERS():
            provider.close()
    if _UPSCALERS.cache_info().currsize:
        for upscaler in _UPSCALERS().values():
            upscaler.close()
    if _IMAGE_GENERATORS.cache_info().currsize:
        for generator in _IMAGE_GENERATORS().values():
            generator.close()
    reset_settings()
    for factory in _FACTORIES:
        factory.cache_clear()
