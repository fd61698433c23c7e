"""AI generation route: ``POST /media/generate`` queues a ``generate`` job whose image joins the library with source
``generated``. The work happens in ``services/generation.py`` and the generate worker (``workers/generate.py``);
``GET /jobs/{id}`` follows the job."""

from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.api.contract import Answer, Reply, operation
from chalicelib.api.responses import identity_of
from chalicelib.models.api import GenerateMediaRequest
from chalicelib.models.jobs import Job

bp = Blueprint(__name__)

TAG = "media"


@operation(
    bp,
    "POST",
    "/media/generate",
    tag=TAG,
    body=GenerateMediaRequest,
    answers=[
        Answer(
            202,
            Job,
            description="The generation job is queued; `GET /jobs/{job_id}` follows it, and once it succeeded "
            "`result_asset_id` is the generated image in the library (source `generated`).",
            creates={"job_id": "$response.body#/id"},
        )
    ],
    errors=["queue_unavailable"],
)
def generate_media(body: GenerateMediaRequest) -> Reply:
    """Generate an image from a prompt.

    Queues a `generate` job: Replicate's text-to-image model (`black-forest-labs/flux-schnell` by default) when
    Sleeve has a Replicate token, else the local typographic cover (the prompt's words over a gradient from a palette
    derived from it), which records itself as `sleeve-typographic`, not as a model. `params` takes `aspect_ratio`,
    `seed` and `num_inference_steps`; `negative_prompt` is kept with the job, though flux-schnell takes none. The image
    is ingested like an upload: it joins the library with source `generated`, the `title` and `tags` given, and
    `ai_metadata` saying what made it, from which prompt, and how long it took.
    """
    from chalicelib import container

    job = container.get_generation_service().request(identity_of(bp.current_request), body)
    return Reply(job, status=202)
