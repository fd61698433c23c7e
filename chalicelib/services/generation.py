"""AI generation (issue 11): ``POST /media/generate`` makes a ``generate`` job on the generate queue; its worker runs
an ``ImageGenerator`` (Replicate's text-to-image, or the local typographic cover); the image is recorded as a pending
asset (source ``generated``, ``ai_metadata`` saying honestly what made it) and PUT at that asset's upload key, so the
ONE ingest path makes it ready; ``after_ingest`` ends the job ``succeeded`` with ``result_asset_id``, or ``failed``.

The job record, its conditional transitions, the output claim and the reaper and poller are upscaling's
(``store/jobs.py``, ``EnhancementService.reap``/``poll``, which hand this service the ``generate`` jobs through the
``JobDriver`` interface: ``queue``, ``settle``, ``handle_message``). A result that arrives for a job that was canceled
or failed meanwhile is discarded (its record and every object under its prefixes): nothing is half-written.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import cast

from pydantic import ValidationError
from pynamodb.exceptions import PutError

from chalicelib.config import Settings
from chalicelib.models.api import GenerateMediaRequest
from chalicelib.models.domain import Asset, Identity
from chalicelib.models.jobs import Job, JobError
from chalicelib.models.media import AiMetadata, InputContext, LibraryFields
from chalicelib.providers.base import ProviderFailure
from chalicelib.providers.generation import TYPOGRAPHIC_GENERATOR, GeneratedImage, GenerateRequest, ImageGenerator
from chalicelib.providers.upscaling import PredictionClient, PredictionStarted, PredictionState, UpscaleFailedError
from chalicelib.services.enhancement_policy import MESSAGE, RunMessage, run_message, webhook_url
from chalicelib.services.jobs import JobsQueue
from chalicelib.services.storage_keys import asset_prefixes, upload_key
from chalicelib.store.assets import AssetRepository
from chalicelib.store.dynamo import is_condition_failure, utcnow
from chalicelib.store.jobs import JobRepository, StoredJob
from chalicelib.store.objects import ObjectStore
from chalicelib.store.queues import QueueSendError

log = logging.getLogger(__name__)

#: How long a claim of a job's output holds before another report may take it over (the claimer died).
OUTPUT_CLAIM_LEASE = timedelta(minutes=10)
#: The shape of ``ai_metadata`` this service writes.
AI_METADATA_VERSION = "1"
#: How a remote text-to-image model made its image.
TEXT_TO_IMAGE = "text-to-image"


def choose_generator(settings: Settings) -> tuple[str, str]:
    """``(provider, model)`` of a NEW job: ``settings.image_generator``, or for ``auto`` Replicate when
    ``SLEEVE_REPLICATE_API_TOKEN`` is set, else ``typographic``; the model is ``replicate_generate_model`` or
    ``sleeve-typographic``. Decided from settings alone, so the route never builds an HTTP client. A job keeps the
    provider it was created with."""
    provider = settings.image_generator
    if provider == "auto":
        provider = "replicate" if settings.replicate_api_token is not None else "typographic"
    return provider, settings.replicate_generate_model if provider == "replicate" else TYPOGRAPHIC_GENERATOR


class GenerationService:
    """Generation jobs (see the module docstring). ``generators`` builds the providers by name (``replicate``,
    ``typographic``); it is called when a job is created (to choose one) and by the worker."""

    def __init__(
        self,
        *,
        settings: Settings,
        jobs: JobRepository,
        assets: AssetRepository,
        objects: ObjectStore,
        queue: JobsQueue,
        generators: Callable[[], Mapping[str, ImageGenerator]],
        reindex: Callable[[Asset | None, Asset | None], None] | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        """``reindex`` (``MediaIndex.reindex``) keeps the search and tag index in step with the result asset: it is
        indexed when created (its title and tags) and unindexed when a failed or canceled job discards it."""
        self._settings = settings
        self._reindex = reindex
        self._jobs = jobs
        self._assets = assets
        self._objects = objects
        self.queue = queue
        self._generators = generators
        self._now = now

    # -- the route ----------------------------------------------------------------------------------------------------

    def request(self, identity: Identity, body: GenerateMediaRequest) -> Job:
        """Queue a generation for the caller (``POST /media/generate``); the queued job (``kind`` generate,
        ``input`` ``{prompt, negative_prompt, params, title, tags}``, ``result_asset_id`` chosen now).

        Raises ``QueueSendError`` (503 ``queue_unavailable``) when ``job.run`` could not be sent: the job is then
        ``failed``, not left queued.
        """
        provider, model = choose_generator(self._settings)
        now = self._now()
        params = body.params.model_dump() if body.params else {}
        job = StoredJob(
            id=uuid.uuid4().hex,
            owner_id=identity.subject,
            kind="generate",
            provider=provider,
            model=model,
            status="queued",
            attempts=0,
            input={
                "prompt": body.prompt,
                "negative_prompt": body.negative_prompt,
                "params": params,
                "title": body.title,
                "tags": list(body.tags or []),
            },
            created_at=now,
            deadline_at=now + timedelta(seconds=self._settings.job_queued_deadline_s),
            result_asset_id=uuid.uuid4().hex,
            updated_at=now,
        )
        self._jobs.create(job)
        try:
            self.queue.send(run_message(job.id))
        except QueueSendError as exc:
            error = JobError(code=exc.code, message="The job could not be queued; try again.")
            self._jobs.fail(job, error=error, now=self._now())
            raise
        log.info("generate job %s queued (%s) for %s", job.id, provider, identity.subject)
        return job.public()

    # -- the worker ---------------------------------------------------------------------------------------------------

    def handle_message(self, body: str) -> str:
        """One generate-queue message: ``job.run`` (``run``) or ``job.prediction`` (``complete_prediction``); their
        outcome, or ``malformed`` (logged, dropped). Raises a transient ``ProviderFailure`` or a write's error so SQS
        retries."""
        try:
            message = MESSAGE.validate_json(body)
        except ValidationError as exc:
            log.warning("malformed generate message dropped: %s", exc.errors(include_input=False, include_url=False))
            return "malformed"
        if isinstance(message, RunMessage):
            return self.run(message.job_id)
        return self.complete_prediction(message.job_id, message.prediction.state())

    def fail_dead_letter(self, body: str) -> bool:
        """A message that failed every retry: its job ends ``failed`` (``dead_lettered``) unless it had ended, and a
        result asset it made is discarded. False for a malformed message or an ended job; never raises on a
        malformed body."""
        try:
            message = MESSAGE.validate_json(body)
        except ValidationError:
            log.warning("malformed dead-lettered generate message dropped")
            return False
        job = self._jobs.get(message.job_id)
        if job is None:
            return False
        outcome = self.fail(job, "dead_lettered", "The job's message failed every retry and was given up.")
        return outcome == "failed"

    def run(self, job_id: str) -> str:
        """Run a queued job: ``queued → running`` (conditional), then its generator. ``started`` (a remote prediction
        reports later), ``ingesting`` (the image was handed to ingest), ``failed``, ``duplicate`` (the job was not
        queued), ``gone``. Raises the generator's transient ``ProviderFailure`` after putting the job back to
        ``queued`` (while tries remain), so SQS delivers the message again."""
        job = self._jobs.get(job_id)
        if job is None:
            return "gone"
        if job.status != "queued":
            return "duplicate"
        now = self._now()
        running = self._jobs.start(
            job, now=now, deadline=now + timedelta(seconds=self._settings.job_running_deadline_s)
        )
        if running is None:
            return "duplicate"
        generator = self._generators().get(running.provider)
        reason = "unknown provider" if generator is None else generator.unavailable_reason()
        if generator is None or reason is not None:
            return self.fail(running, "generator_unavailable", f"The {running.provider} generator is off: {reason}.")
        params = running.input.get("params") or {}
        request = GenerateRequest(
            job_id=running.id,
            prompt=str(running.input.get("prompt", "")),
            negative_prompt=running.input.get("negative_prompt"),
            aspect_ratio=str(params.get("aspect_ratio") or "1:1"),
            seed=params.get("seed"),
            num_inference_steps=params.get("num_inference_steps"),
            webhook_url=webhook_url(self._settings, running.id) if running.provider == "replicate" else None,
        )
        try:
            result = generator.start(request)
        except ProviderFailure as exc:
            return self._provider_failed(running, exc)
        if isinstance(result, PredictionStarted):
            if self._jobs.set_external(running, external_id=result.external_id, model=result.model, now=self._now()):
                return "started"
            self._cancel_prediction(result.external_id)  # canceled while the prediction was being created
            return "duplicate"
        if not self._jobs.claim_output(running, now=self._now(), lease=OUTPUT_CLAIM_LEASE):
            return "duplicate"
        return self.finish(running, result)

    def _provider_failed(self, job: StoredJob, exc: ProviderFailure) -> str:
        if exc.transient and job.attempts + job.resends < self._settings.job_max_attempts:
            now = self._now()
            self._jobs.requeue(job, now=now, deadline=now + timedelta(seconds=self._settings.job_queued_deadline_s))
            log.warning("generate job %s: %s failed for a passing reason (%s); retried", job.id, job.provider, exc.code)
            raise exc
        code = exc.code if isinstance(exc, UpscaleFailedError) else "provider_failed"
        return self.fail(job, code, f"{job.provider}: {exc.message}")

    def complete_prediction(self, job_id: str, state: PredictionState) -> str:
        """A prediction reported by the webhook or the poller: ``pending``, ``ignored`` (not this job's current
        prediction), ``duplicate`` (claimed by another report, or the job ended), ``failed`` (the prediction failed
        or was canceled: ``provider_failed``; its output refused: ``output_too_large``, ``output_url_refused``,
        ``output_not_image``), ``ingesting``. Raises a transient ``ProviderFailure`` of the download (the claim given
        back first) so SQS retries."""
        job = self._jobs.get(job_id)
        if job is None:
            return "gone"
        if job.status != "running":
            return "duplicate"
        if job.provider != "replicate" or job.external_id != state.external_id:
            log.info("generate job %s: ignoring a report of prediction %s", job.id, state.external_id)
            return "ignored"
        if not state.terminal:
            return "pending"
        if state.status != "succeeded":
            return self.fail(job, "provider_failed", state.error or f"The prediction ended {state.status}.")
        if not self._jobs.claim_output(job, now=self._now(), lease=OUTPUT_CLAIM_LEASE, external_id=state.external_id):
            return "duplicate"
        if not state.output_urls:
            return self.fail(job, "provider_failed", "The prediction succeeded without an output file.")
        try:
            data = self._client().download_output(state.output_urls[0])
        except ProviderFailure as exc:
            if exc.transient:
                self._jobs.release_output(job, now=self._now())
                raise
            code = exc.code if isinstance(exc, UpscaleFailedError) else "provider_failed"
            return self.fail(job, code, exc.message)
        started = job.started_at or job.created_at
        elapsed_ms = max(0, round((self._now() - started).total_seconds() * 1000))
        image = GeneratedImage(
            data=data,
            content_type="",
            width=0,
            height=0,
            generated_by=job.model,
            generation_strategy=TEXT_TO_IMAGE,
            processing_time_ms=elapsed_ms,
        )
        return self.finish(job, image)

    # -- the result ---------------------------------------------------------------------------------------------------

    def finish(self, job: StoredJob, image: GeneratedImage) -> str:
        """Hand a claimed image to ingest: refuse what is not a JPEG/PNG/WebP (``output_not_image``) or is above
        ``upload_max_bytes`` (``output_too_large``), create the result asset (source ``generated``, ``ai_metadata``)
        and PUT the bytes at its upload key. ``ingesting``; ``settle``'s outcome when the result had been ingested
        already (a retry) or the job ended while it was written (the result is then discarded)."""
        from chalicelib.imaging.sniff import sniff_format

        fmt = sniff_format(image.data)
        if fmt is None:
            return self.fail(job, "output_not_image", "The generator's output is not a JPEG, PNG or WebP image.")
        if len(image.data) > self._settings.upload_max_bytes:
            return self.fail(
                job,
                "output_too_large",
                f"The image holds {len(image.data)} bytes; at most {self._settings.upload_max_bytes} are ingested.",
            )
        content_type = f"image/{fmt}"
        result = self._result_asset(job, image, content_type)
        if result.status in ("ready", "failed"):
            return self.settle(job, result)
        if result.status == "pending":
            self._objects.put_bytes(result.upload_key, image.data, content_type=content_type)
            # Canceled (or ended by the reaper) meanwhile: the ingest's settle discards it too, but do not wait.
            current = self._jobs.get(job.id)
            if current is not None and current.status in ("failed", "canceled"):
                return self.settle(current, result)
        return "ingesting"

    def _result_asset(self, job: StoredJob, image: GeneratedImage, content_type: str) -> Asset:
        """The job's result asset, created ``pending`` (or as an earlier run of the same job created it)."""
        asset_id = str(job.result_asset_id)
        size = max(len(image.data), 1)
        prompt = str(job.input.get("prompt", ""))
        metadata = AiMetadata(
            generated_by=image.generated_by,
            generation_strategy=image.generation_strategy,
            processing_time_ms=image.processing_time_ms,
            input_context=InputContext(creator_description=prompt),
            generated_at=self._now(),
            version=AI_METADATA_VERSION,
        )
        library = LibraryFields(
            title=job.input.get("title"), tags=list(job.input.get("tags") or []), ai_metadata=metadata
        )
        try:
            created = self._assets.create_pending(
                asset_id=asset_id,
                owner_id=job.owner_id,
                upload_key=upload_key(job.owner_id, asset_id),
                declared_content_type=content_type,
                declared_bytes=size,
                max_bytes=max(self._settings.upload_max_bytes, size),
                filename=None,
                attach_to=None,
                source="generated",
                job_id=job.id,
                library=library,
            )
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
            existing = self._assets.get(asset_id)
            assert existing is not None, "the put failed because the asset exists"
            created = existing
        if self._reindex is not None:
            self._reindex(None, created)  # idempotent puts: a second run of the job writes the same items
        return created

    def after_ingest(self, asset_id: str) -> str:
        """Called by the ingest worker after every outcome of an asset's ingest; idempotent. A generation's result
        settles its job (``settle``); any other asset is ``ignored``."""
        asset = self._assets.get(asset_id)
        if asset is None or asset.source != "generated" or not asset.job_id:
            return "ignored"
        job = self._jobs.get(asset.job_id)
        if job is None or job.kind != "generate" or job.result_asset_id != asset.id:
            return "ignored"
        return self.settle(job, asset)

    def settle(self, job: StoredJob, result: Asset) -> str:
        """End the job by its result's ingest: ``ready`` → ``succeeded``; ``failed`` → ``failed``
        (``result_rejected`` with the ingest's reason); otherwise ``waiting``. A job that had been canceled or had
        failed: the result is discarded (``discarded``); one that had succeeded: ``duplicate``."""
        if job.status in ("canceled", "failed"):
            self._discard(job)
            return "discarded"
        if job.status == "succeeded":
            return "duplicate"
        if result.status == "failed":
            reason = f"{result.error.code}: {result.error.message}" if result.error else "the ingest refused it"
            return self.fail(job, "result_rejected", f"The generated image was refused by ingest ({reason}).")
        if result.status != "ready":
            return "waiting"
        if self._jobs.succeed_alone(job, now=self._now()) is not None:
            log.info("generate job %s succeeded: asset %s", job.id, result.id)
            return "succeeded"
        current = self._jobs.get(job.id)
        if current is not None and current.status in ("canceled", "failed"):
            self._discard(current)
            return "discarded"
        return "duplicate"

    # -- ending a job -------------------------------------------------------------------------------------------------

    def fail(self, job: StoredJob, code: str, message: str) -> str:
        """End the job ``failed`` with ``{code, message}`` and discard a result it made; ``failed``, or ``duplicate``
        when it had ended already."""
        log.info("generate job %s failed: %s (%s)", job.id, code, message)
        ended = self._jobs.fail(job, error=JobError(code=code, message=message), now=self._now())
        if ended is None:
            return "duplicate"
        self._discard(ended)
        return "failed"

    def _discard(self, job: StoredJob) -> None:
        """Delete the job's result asset if it exists (objects, record, objects again: an ingest run that wrote
        after the first pass cannot finish without the record, and the second pass removes what it wrote)."""
        result = self._assets.get(job.result_asset_id) if job.result_asset_id is not None else None
        if job.result_asset_id is None or result is None:
            return
        if self._reindex is not None:
            self._reindex(result, None)
        prefixes = asset_prefixes(job.owner_id, job.result_asset_id)
        deleted = self._objects.delete_prefixes(prefixes)
        self._assets.delete(job.result_asset_id)
        deleted += self._objects.delete_prefixes(prefixes)
        log.info("generate job %s (%s): result %s discarded, %d objects", job.id, job.status, job.result_asset_id,
                 len(deleted))  # fmt: skip

    def _client(self) -> PredictionClient:
        return cast(PredictionClient, self._generators()["replicate"])

    def _cancel_prediction(self, external_id: str) -> None:
        try:
            self._client().cancel_prediction(external_id)
        except ProviderFailure as exc:
            log.warning("prediction %s could not be canceled: %s", external_id, exc.code)
