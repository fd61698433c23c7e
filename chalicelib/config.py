"""Runtime settings, read from the environment (``SLEEVE_*``) by pydantic-settings, built lazily on first use.

Nothing here runs at import time: ``get_settings()`` builds the object once and caches it; tests call
``reset_settings()`` after changing the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The imaging package owns these limits (specs.py holds no Pillow import); settings only let an operator change them.
from chalicelib.imaging.specs import DEFAULT_MAX_PIXELS, DEFAULT_MIN_SOURCE_PX, DEFAULT_ORIGINAL_MAX_PX

Stage = Literal["local", "dev", "prod"]
APP_NAME = "sleeve"
#: Minutes between two runs of the DSP-sync schedule (EventBridge ``rate()`` takes whole minutes; at most a day).
ScheduleMinutes = Annotated[int, Field(ge=1, le=24 * 60)]
DEFAULT_DSP_SYNC_SCHEDULE_MINUTES = 60
DEFAULT_JOBS_SCHEDULE_MINUTES = 5


def stage_resource_name(stage: str, suffix: str = "") -> str:
    """The name of one of a stage's resources: ``sleeve-{stage}`` (the table) or ``sleeve-{stage}-{suffix}``
    (``ingest``, ``ingest-dlq``, ``dsp-sync``, ``cleanup``…), so that two stages can share an AWS account.

    infra/template.json builds the same names with ``Fn::Sub`` on its ``Stage`` parameter; a test ties the two.
    """
    return f"{APP_NAME}-{stage}-{suffix}" if suffix else f"{APP_NAME}-{stage}"


def _default_name(suffix: str = "") -> Callable[[dict[str, Any]], str]:
    # A pydantic default factory that receives the fields validated so far: ``stage`` is declared first. (pydantic
    # does not call it when the stage itself failed validation.)
    return lambda data: stage_resource_name(data["stage"], suffix)


class Settings(BaseSettings):
    """Every knob Sleeve reads. Sizes are bytes, durations seconds, dimensions px.

    Raises ``pydantic.ValidationError`` when a required setting is missing or out of range (for instance a presigned
    POST lifetime above 900 s, or a ``dev``/``prod`` stage without a Cognito user pool or app client id).
    """

    model_config = SettingsConfigDict(env_prefix="SLEEVE_", extra="ignore")

    stage: Stage = "local"
    aws_region: str = Field(
        default="us-east-1",
        validation_alias=AliasChoices("SLEEVE_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    )
    # Points boto3 and PynamoDB at moto server locally; unset in AWS.
    aws_endpoint_url: str | None = None

    # Names default to the stage's (``sleeve-{stage}``, ``sleeve-{stage}-ingest``…); the bucket's holds the account id.
    table_name: str = Field(default_factory=_default_name())
    bucket_name: str
    ingest_queue_name: str = Field(default_factory=_default_name("ingest"))
    # Released releases are queued here for the DSP worker; resolved by name, so no account-specific URL to configure.
    sync_queue_name: str = Field(default_factory=_default_name("dsp-sync"))
    # Deleted releases are queued here for the cleanup worker (their objects, assets, links and claims).
    cleanup_queue_name: str = Field(default_factory=_default_name("cleanup"))

    upload_max_bytes: int = Field(default=25_000_000, gt=0)
    upload_url_ttl_s: int = Field(default=900, gt=0, le=900)
    download_url_ttl_s: int = Field(default=300, gt=0, le=300)
    artwork_url_ttl_s: int = Field(default=900, gt=0, le=3600)
    max_pixels: int = Field(default=DEFAULT_MAX_PIXELS, gt=0)
    original_max_px: int = Field(default=DEFAULT_ORIGINAL_MAX_PX, gt=0)
    # Uploads whose short side is below this many px are refused (too_small); default: the tiny variant's side.
    min_source_px: int = Field(default=DEFAULT_MIN_SOURCE_PX, gt=0)

    share_link_default_ttl_s: int = Field(default=30 * 24 * 3600, gt=0)
    share_link_max_ttl_s: int = Field(default=365 * 24 * 3600, gt=0)
    # Base of the public share URLs (``{public_base_url}/s/{token}``); derived from the request when unset.
    public_base_url: str | None = None

    # Identity: HS256 tokens signed with this secret in the local stage; Cognito JWTs elsewhere.
    jwt_secret: SecretStr | None = None
    cognito_user_pool_id: str | None = None
    cognito_app_client_id: str | None = None
    # HMAC-SHA256 key of pagination cursors (store/cursors.py); required outside local, derived from the JWT secret
    # in the local stage when unset.
    cursor_secret: SecretStr | None = None

    # -- DSP sync (chalicelib/providers/, services/dsp_sync.py) --------------------------------------------------------
    # The services synced, in merge priority: the first one found is the reference the others must agree with.
    # SLEEVE_DSP_PROVIDERS is comma-separated: "spotify,apple_music,musicbrainz"; an empty value syncs with none.
    dsp_providers: Annotated[list[Literal["spotify", "apple_music", "musicbrainz"]], NoDecode] = [
        "spotify",
        "apple_music",
        "musicbrainz",
    ]
    spotify_api_url: str = "https://api.spotify.com/v1"
    # The client-credentials token is POSTed to {spotify_accounts_url}/api/token.
    spotify_accounts_url: str = "https://accounts.spotify.com"
    spotify_client_id: str | None = None
    spotify_client_secret: SecretStr | None = None
    apple_music_api_url: str = "https://api.music.apple.com/v1"
    apple_music_storefront: str = "us"
    apple_music_team_id: str | None = None
    apple_music_key_id: str | None = None
    # The MusicKit private key (PEM, ES256) that signs the developer token.
    apple_music_private_key: SecretStr | None = None
    musicbrainz_api_url: str = "https://musicbrainz.org/ws/2"
    # MusicBrainz asks every client to identify itself as "Application/version ( contact )" and blocks anonymous
    # ones; operators set their own contact (https://musicbrainz.org/doc/MusicBrainz_API/Rate_Limiting).
    musicbrainz_user_agent: str = "Sleeve/0.9 ( https://github.com/sleeve-music/sleeve )"
    # At most one request per this many seconds per process (MusicBrainz's documented limit: 1 per second).
    musicbrainz_min_interval_s: float = Field(default=1.0, ge=0)
    # Per-request timeouts (s), retries of 5xx/timeouts/connection errors, and the longest Retry-After honoured (s).
    provider_connect_timeout_s: float = Field(default=3.0, gt=0)
    provider_read_timeout_s: float = Field(default=10.0, gt=0)
    provider_max_retries: int = Field(default=3, ge=0, le=10)
    provider_backoff_base_s: float = Field(default=0.5, ge=0)
    provider_retry_after_cap_s: float = Field(default=30.0, ge=0)
    # A synced (or locked) release is synced again this long after its last sync (default weekly).
    dsp_resync_interval_s: int = Field(default=7 * 24 * 3600, gt=0)
    # A release whose sync failed is due again after this long.
    dsp_retry_interval_s: int = Field(default=6 * 3600, gt=0)
    # Releases read per gsi3 page by the sync schedule, and the most it enqueues per run.
    dsp_schedule_page_size: int = Field(default=100, ge=1, le=1000)
    dsp_schedule_max_per_run: int = Field(default=1000, ge=1)
    # Minutes between runs of the sync schedule (workers/dsp_sync.py). Chalice needs the rate when the handler is
    # decorated, so chalicelib/workers/queues.py reads SLEEVE_DSP_SYNC_SCHEDULE_MINUTES at import with this same type;
    # the local stage sets 1 so the embedded stack picks due releases up within a minute.
    dsp_sync_schedule_minutes: ScheduleMinutes = DEFAULT_DSP_SYNC_SCHEDULE_MINUTES

    # -- AI upscaling and jobs (chalicelib/providers/replicate.py, local_upscaler.py; services/enhancement.py) ---------
    # Every asynchronous AI job runs from this queue (its DLQ ends a job ``failed``).
    jobs_queue_name: str = Field(default_factory=_default_name("jobs"))
    # Which upscaler runs a new job: ``auto`` picks Replicate when SLEEVE_REPLICATE_API_TOKEN is set, else the local
    # Real-ESRGAN when the laptop extra is installed, else plain Lanczos resampling (recorded as not AI).
    upscaler: Literal["auto", "replicate", "local", "lanczos"] = "auto"
    replicate_api_url: str = "https://api.replicate.com/v1"
    replicate_api_token: SecretStr | None = None
    replicate_upscale_model: str = "nightmareai/real-esrgan"
    # A pinned model version; without it the model's ``latest_version.id`` is read once and cached.
    replicate_upscale_version: str | None = None
    # The Standard Webhooks signing secret Replicate gives (``whsec_…``); without it every webhook is refused (401)
    # and jobs complete through the poller.
    replicate_webhook_secret: SecretStr | None = None
    # The public URL of ``POST /webhooks/replicate`` given to Replicate (default
    # ``{public_base_url}/webhooks/replicate``); with neither, predictions get no webhook and the poller completes them.
    replicate_webhook_url: str | None = None
    # Output files: downloaded at once (Replicate deletes them after an hour), https only, at most this many bytes,
    # within this many seconds. ``replicate_output_allow_http`` is for the local fake server only.
    replicate_output_max_bytes: int = Field(default=50_000_000, gt=0)
    replicate_output_timeout_s: float = Field(default=30.0, gt=0)
    replicate_output_allow_http: bool = False
    # A running prediction whose webhook has not come for this long is asked for by the poller.
    replicate_poll_after_s: int = Field(default=60, ge=0)
    # Webhooks whose ``webhook-timestamp`` is further than this from now are refused (Standard Webhooks: 5 minutes).
    webhook_tolerance_s: int = Field(default=300, gt=0)
    # The local Real-ESRGAN subprocess is killed (and its job fails) after this long.
    local_upscale_timeout_s: int = Field(default=300, gt=0)
    # Inputs whose short side is above this are first reduced to it with Lanczos (px): x4plus's CPU time grows with
    # the input's pixels (128 px: ~12 s, 300 px: ~80 s, 600 px: ~7 min on two busy cores); 350 px x4 is 1400 px.
    local_upscale_max_input_px: int = Field(default=350, gt=0)
    # Enhancement policy (px, on the original's short side): at or above ``enhance_not_needed_px`` nothing is done
    # (409 not_needed); below ``auto_enhance_below_px`` a job starts by itself after ingest when the owner allows it.
    # The result is brought to at least ``enhance_target_px`` (the ``large`` variant's side).
    enhance_not_needed_px: int = Field(default=1400, gt=0)
    auto_enhance_below_px: int = Field(default=300, ge=0)
    enhance_target_px: int = Field(default=1400, gt=0)
    # Deadlines: a job still ``queued`` this long after it was queued, or ``running`` this long after it started, is
    # re-queued by the reaper (at most ``job_max_attempts`` runs in all), then ended ``failed`` (deadline_exceeded).
    job_queued_deadline_s: int = Field(default=900, gt=0)
    job_running_deadline_s: int = Field(default=1800, gt=0)
    job_max_attempts: int = Field(default=3, ge=1, le=10)
    # Minutes between runs of the job reaper and the prediction poller (read at import by workers/queues.py, like
    # the DSP schedule); the local stage sets 1.
    jobs_schedule_minutes: ScheduleMinutes = DEFAULT_JOBS_SCHEDULE_MINUTES

    # -- The media library (issue 11: services/media*.py, imports.py, generation.py, backfill.py) ------------------
    # URL imports, AI generation and the legacy backfill each run from their own queue (a DLQ ends the work failed).
    imports_queue_name: str = Field(default_factory=_default_name("imports"))
    generate_queue_name: str = Field(default_factory=_default_name("generate"))
    backfill_queue_name: str = Field(default_factory=_default_name("backfill"))
    # Videos (MP4, WebM, QuickTime) may be this large (bytes); images keep ``upload_max_bytes``.
    video_max_bytes: int = Field(default=200_000_000, gt=0)
    # A CDN in front of the bucket: ``public`` assets are delivered as ``{media_public_base_url}/{key}`` (stable URLs);
    # unset, every asset is delivered by presigned GETs valid ``artwork_url_ttl_s``.
    media_public_base_url: str | None = None
    # URL imports (providers/url_fetch.py): https only unless ``import_allow_http``; every address a host resolves to
    # must be globally routable unless ``import_allow_private`` (both only for local work: the embedded stack and its
    # fake servers on loopback). At most ``import_max_redirects`` hops, ``import_max_bytes`` bytes, and
    # ``import_timeout_s`` seconds per connect/read.
    import_allow_http: bool = False
    import_allow_private: bool = False
    # When set (comma-separated host names, e.g. "is1-ssl.mzstatic.com,coverartarchive.org"), only these hosts are
    # imported from (others: 422 url_not_allowed, reason host_not_allowed) and no other name is ever resolved. Empty:
    # any host that passes the address rules. The e2e stacks set "127.0.0.1,localhost".
    import_allowed_hosts: Annotated[list[str], NoDecode] = []
    import_max_redirects: int = Field(default=5, ge=0, le=20)
    import_max_bytes: int = Field(default=25_000_000, gt=0)
    import_timeout_s: float = Field(default=10.0, gt=0)
    # Which image generator runs ``POST /media/generate``: ``auto`` picks Replicate when SLEEVE_REPLICATE_API_TOKEN is
    # set, else the local typographic cover (``generated_by: "sleeve-typographic"``, not a model).
    image_generator: Literal["auto", "replicate", "typographic"] = "auto"
    # An official Replicate model, run with ``POST /models/{owner}/{name}/predictions`` (no version).
    replicate_generate_model: str = "black-forest-labs/flux-schnell"

    @field_validator("import_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [name.strip().lower().rstrip(".") for name in value.split(",") if name.strip()]
        return value

    @field_validator("dsp_providers", mode="before")
    @classmethod
    def _split_providers(cls, value: Any) -> Any:
        if isinstance(value, str):
            names = [name.strip() for name in value.split(",") if name.strip()]
            if len(set(names)) != len(names):
                raise ValueError("SLEEVE_DSP_PROVIDERS names a service twice")
            return names
        return value

    @model_validator(mode="after")
    def _check_identity(self) -> Settings:
        if self.stage == "local" and self.jwt_secret is None:
            raise ValueError("SLEEVE_JWT_SECRET is required in the local stage")
        if self.stage != "local" and not self.cognito_user_pool_id:
            raise ValueError("SLEEVE_COGNITO_USER_POOL_ID is required outside the local stage")
        # Without it any app client of the pool could call Sleeve with its own tokens.
        if self.stage != "local" and not self.cognito_app_client_id:
            raise ValueError("SLEEVE_COGNITO_APP_CLIENT_ID is required outside the local stage")
        return self

    @model_validator(mode="after")
    def _check_cursor_secret(self) -> Settings:
        if self.stage != "local" and (self.cursor_secret is None or len(self.cursor_secret.get_secret_value()) < 32):
            raise ValueError("SLEEVE_CURSOR_SECRET (32 characters or more) is required outside the local stage")
        return self

    def cursor_key(self) -> bytes:
        """The HMAC key of pagination cursors: ``SLEEVE_CURSOR_SECRET``, or in the local stage a key derived from
        ``SLEEVE_JWT_SECRET`` (HMAC-SHA256 of a fixed label), so a local cursor key never equals the token key."""
        import hashlib
        import hmac

        if self.cursor_secret is not None:
            return self.cursor_secret.get_secret_value().encode()
        assert self.jwt_secret is not None, "checked by _check_identity in the local stage"
        jwt_key = self.jwt_secret.get_secret_value().encode()
        return hmac.new(jwt_key, b"sleeve pagination cursors", hashlib.sha256).digest()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built from the environment on first call."""
    return Settings()  # type: ignore[call-arg]  # required fields come from the environment


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()
