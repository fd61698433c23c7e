"""PynamoDB records of the single ``sleeve`` table (declared in infra/template.json).

Key design (every access pattern is a GetItem or a Query, never a Scan):

| item           | pk                  | sk                         | indexes (pk / sk)                              |
|----------------|---------------------|----------------------------|------------------------------------------------|
| release        | RELEASE#{id}        | RELEASE                    | gsi1 OWNER#{owner}#RELEASES / {created}#{id}   |
|                |                     |                            | gsi2 OWNER#{owner}#STATUS#{st} / {created}#{id} |
|                |                     |                            | gsi3 DSP_SYNC_DUE / {due_at}#{id} (sparse)     |
| track          | RELEASE#{id}        | RELEASE#TRACK#{track_id}   | –                                              |
| collaborator   | RELEASE#{id}        | RELEASE#COLLABORATOR#{cid} | –                                              |
| history entry  | RELEASE#{id}        | HISTORY#{changed_at}#{hid} | –                                              |
| DSP sync state | RELEASE#{id}        | DSP_SYNC                   | –                                              |
| ISRC claim     | ISRC#{owner}#{isrc} | ISRC                       | –                                              |
| cleanup marker | CLEANUP             | RELEASE#{release_id}       | –                                              |
| media asset    | ASSET#{id}          | ASSET                      | gsi1 OWNER#{owner}#ASSETS / {created}#{id}     |
|                |                     |                            | gsi2 {target}#ASSETS / {created}#{id} (sparse) |
|                |                     |                            | gsi3 OWNER#{owner}#ASSETS#SOURCE#{src} / …     |
|                |                     |                            | gsi4 OWNER#{owner}#ASSETS#TYPE#{type} / …      |
| attachment     | {TYPE}#{owner_id}   | ATTACHMENT#{role}          | –                                              |
| media attach-  | ATTACH#{caller}#    | cover, or                  | gsi1 ASSET#{asset_id}#ATTACHMENTS /            |
| ment           | {owner_type}#{oid}  | {role}#{sort:010d}#{aid}   | {attachment_id}                                |
| media term     | SEARCH#{owner}#{c}  | {token}#{asset_id}         | – (c: the token's first character)             |
| media tag      | TAG#{owner}#{tag}   | {created}#{asset_id}       | – (tag: search_terms.tag_key)                  |
| share link     | SHARE#{token_id}    | SHARE                      | gsi1 RELEASE#{id}#SHARES / {created}#{token}   |
|                |                     |                            | (or ASSET#{id}#SHARES, COLLECTION#{owner}#…)   |
| job            | JOB#{id}            | JOB                        | gsi1 OWNER#{owner}#JOBS / {created}#{id}       |
|                |                     |                            | gsi2 OWNER#{owner}#JOBS#{st} / {created}#{id}  |
|                |                     |                            | gsi3 JOBS_OPEN / {deadline}#{id} (sparse)      |
| preferences    | OWNER#{owner}       | PREFERENCES#artwork        | –                                              |
| webhook receipt| WEBHOOK#{id}        | WEBHOOK                    | –                                              |
| backfill mark  | RELEASE#{id}        | BACKFILL#artwork           | –                                              |
| backfill point | BACKFILL#media      | CHECKPOINT                 | –                                              |
| download count | SHARE#{token_id}    | DOWNLOADS#{size}           | gsi1 RELEASE#{id}#SHARES /                     |
|                |                     |                            | {created}#{token}#DOWNLOADS#{size}             |

A job's gsi2 key is rewritten in the same conditional update as its status; its gsi3 key exists only while it is
queued or running (the reaper's Query). Webhook receipts carry ``ttl`` (epoch seconds), the table's TTL attribute.

Media term and tag items are the search index of the library (``store/media_index.py``): one term item per (asset,
distinct normalised word), one tag item per (asset, tag); ``MediaIndex.reindex`` keeps them in step with the asset.

A release's share links and their download counters share one gsi1 partition, so one Query lists the links with their
counts.

The release, its tracks and its collaborators share the prefix ``RELEASE`` of one partition, so a single Query
(``begins_with(sk, "RELEASE")``) returns them together; history entries sort apart under ``HISTORY#`` and the DSP
sync state under ``DSP_SYNC`` (read with its own GetItem; the purge of a deleted release's partition removes both).

Table name, endpoint and region are bound at run time by ``bind_records`` (never at import time).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class _TableMeta:
    table_name = "sleeve"
    host: str | None = None
    region = "us-east-1"


class _BaseRecord(Model):
    """Common key attributes of every item in the single table."""

    class Meta(_TableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class _Gsi1Meta:
    index_name = "gsi1"
    projection = AllProjection()


class ReleasesByOwnerIndex(GlobalSecondaryIndex["ReleaseRecord"]):
    """gsi1: an owner's releases, newest first with ``scan_index_forward=False``."""

    class Meta(_Gsi1Meta):
        pass

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class AssetsByOwnerIndex(GlobalSecondaryIndex["AssetRecord"]):
    """gsi1: an owner's media assets, newest first."""

    class Meta(_Gsi1Meta):
        pass

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class AttachmentsByAssetIndex(GlobalSecondaryIndex["MediaAttachmentRecord"]):
    """gsi1: every attachment of one media asset (``ASSET#{asset_id}#ATTACHMENTS`` / ``{attachment_id}``)."""

    class Meta(_Gsi1Meta):
        pass

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class ShareLinksByReleaseIndex(GlobalSecondaryIndex["ShareLinkRecord"]):
    """gsi1: a release's share links, newest first."""

    class Meta(_Gsi1Meta):
        pass

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class ReleasesByStatusIndex(GlobalSecondaryIndex["ReleaseRecord"]):
    """gsi2: an owner's releases in one production status, newest first."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class AssetsByTargetIndex(GlobalSecondaryIndex["AssetRecord"]):
    """gsi2 (sparse): the assets made for a target (``RELEASE#{id}``…), oldest first; only assets with ``attach_to``."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class AssetsBySourceIndex(GlobalSecondaryIndex["AssetRecord"]):
    """gsi3: an owner's media assets from one source, newest first (``OWNER#{owner}#ASSETS#SOURCE#{source}``)."""

    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class AssetsByTypeIndex(GlobalSecondaryIndex["AssetRecord"]):
    """gsi4: an owner's media assets of one type, newest first (``OWNER#{owner}#ASSETS#TYPE#{type}``)."""

    class Meta:
        index_name = "gsi4"
        projection = AllProjection()

    gsi4pk = UnicodeAttribute(hash_key=True)
    gsi4sk = UnicodeAttribute(range_key=True)


class ReleasesDueForSyncIndex(GlobalSecondaryIndex["ReleaseRecord"]):
    """gsi3 (sparse): releases whose DSP sync is due, oldest due first; only releases with ``gsi3pk`` appear."""

    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class CatalogueRecord(_BaseRecord):
    """Base of the items of a release's partition; ``item_type`` says which subclass an item of a Query is."""

    class Meta(_TableMeta):
        pass

    item_type = DiscriminatorAttribute()
    version = VersionAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class ReleaseRecord(CatalogueRecord, discriminator="release"):
    """A release of an owner. ``version`` guards concurrent writes (optimistic locking); every change of its tracks or
    collaborators bumps it too, so the release's ETag covers what ``GET /releases/{id}`` shows."""

    class Meta(_TableMeta):
        pass

    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    by_owner = ReleasesByOwnerIndex()
    by_status = ReleasesByStatusIndex()
    due_for_sync = ReleasesDueForSyncIndex()

    release_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    title = UnicodeAttribute()
    display_artist = UnicodeAttribute()
    release_type = UnicodeAttribute(null=True)
    inferred_release_type = UnicodeAttribute(null=True)
    label = UnicodeAttribute(null=True)
    genre = UnicodeAttribute(null=True)
    upc = UnicodeAttribute(null=True)
    p_line = UnicodeAttribute(null=True)
    c_line = UnicodeAttribute(null=True)
    explicit = BooleanAttribute(default=False)
    description = UnicodeAttribute(null=True)
    production_status = UnicodeAttribute()
    lock_status = UnicodeAttribute()
    scheduled_release_date = UnicodeAttribute(null=True)  # ISO-8601 calendar date
    actual_release_date = UnicodeAttribute(null=True)
    locked_at = UTCDateTimeAttribute(null=True)
    locked_by_sync = BooleanAttribute(default=False)
    distributor_id = UnicodeAttribute(null=True)
    distribution_status = UnicodeAttribute(null=True)
    last_dsp_sync_at = UTCDateTimeAttribute(null=True)
    dsp_sync_due_at = UTCDateTimeAttribute(null=True)
    dsp_conflicts: ListAttribute[Any] = ListAttribute(null=True)
    dsp_ids: MapAttribute[str, Any] = MapAttribute(null=True)  # {"spotify": album id, …}
    artwork_url = UnicodeAttribute(null=True)
    track_count = NumberAttribute(default=0)
    duration_ms = NumberAttribute(default=0)


class TrackRecord(CatalogueRecord, discriminator="track"):
    """A track of a release (``duration_ms`` ms, ``bpm`` beats per minute, ``isrc`` compact)."""

    class Meta(_TableMeta):
        pass

    track_id = UnicodeAttribute()
    release_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    title = UnicodeAttribute()
    track_number = NumberAttribute()
    disc_number = NumberAttribute(default=1)
    duration_ms = NumberAttribute(null=True)
    isrc = UnicodeAttribute(null=True)
    explicit = BooleanAttribute(default=False)
    bpm = UnicodeAttribute(null=True)  # a decimal string: NumberAttribute would round-trip through float
    musical_key = UnicodeAttribute(null=True)
    production_notes = UnicodeAttribute(null=True)
    dsp_ids: MapAttribute[str, Any] = MapAttribute(null=True)  # {"spotify": track id, …, "musicbrainz": recording MBID}


class CollaboratorRecord(CatalogueRecord, discriminator="collaborator"):
    """A collaborator of a release; ``split_bp`` is the royalty split in basis points (10 000 = 100 %)."""

    class Meta(_TableMeta):
        pass

    collaborator_id = UnicodeAttribute()
    release_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    role = UnicodeAttribute()
    name = UnicodeAttribute()
    isrc_party_id = UnicodeAttribute(null=True)
    split_bp = NumberAttribute(null=True)
    creator_id = UnicodeAttribute(null=True)


class HistoryRecord(CatalogueRecord, discriminator="history"):
    """One audit entry of a release (a status change or an unlock); written in the transaction that makes the change."""

    class Meta(_TableMeta):
        pass

    entry_id = UnicodeAttribute()
    release_id = UnicodeAttribute()
    from_status = UnicodeAttribute(null=True)
    to_status = UnicodeAttribute()
    changed_by = UnicodeAttribute()
    changed_at = UTCDateTimeAttribute()
    reason = UnicodeAttribute(null=True)
    metadata: MapAttribute[str, Any] = MapAttribute(null=True)


class IsrcClaimRecord(_BaseRecord):
    """Which track of an owner's catalogue holds an ISRC; created with ``attribute_not_exists`` so an ISRC is used once
    per owner."""

    class Meta(_TableMeta):
        pass

    owner_id = UnicodeAttribute()
    isrc = UnicodeAttribute()
    release_id = UnicodeAttribute()
    track_id = UnicodeAttribute()


class SyncStateRecord(_BaseRecord):
    """The DSP sync state of a release (``pk RELEASE#{id}``, ``sk DSP_SYNC``; ``chalicelib.store.sync_state``).

    ``state``: never/queued/running/synced/conflicts/failed. ``served_at`` is the release's ``last_dsp_sync_at`` as
    the last sync wrote it (the worker's running mark is conditioned on it, so a duplicate message stops there);
    ``report`` holds the last sync's per-service outcome, matches and unmatched tracks as plain JSON.
    """

    class Meta(_TableMeta):
        pass

    release_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    state = UnicodeAttribute()
    requested_at = UTCDateTimeAttribute(null=True)
    started_at = UTCDateTimeAttribute(null=True)
    served_at = UTCDateTimeAttribute(null=True)
    last_synced_at = UTCDateTimeAttribute(null=True)
    error: MapAttribute[str, Any] = MapAttribute(null=True)
    report: MapAttribute[str, Any] = MapAttribute(null=True)
    updated_at = UTCDateTimeAttribute()


class CleanupRecord(_BaseRecord):
    """A deleted release whose partition, assets and objects the cleanup worker has yet to remove.

    Put in the transaction that deletes the release; deleted by the worker once everything is gone, so a marker still
    here after a while means the cleanup message was lost or failed and must be sent again.
    """

    class Meta(_TableMeta):
        pass

    release_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    requested_at = UTCDateTimeAttribute()


class AssetRecord(_BaseRecord):
    """A media asset: one uploaded image and everything the ingest worker made of it.

    ``status``: pending → processing → ready | failed. ``media`` holds the pipeline's output
    (original, variants, colours, placeholder…) once ready; ``error`` holds ``{"code", "message"}`` once failed.
    ``source_sequencer`` is the S3 event sequencer of the object the current state was made from; ``run_id`` the
    value the latest claim recorded (its objects sit under ``media/…/{run_id}/`` and ``derived/…/{run_id}/``).
    """

    class Meta(_TableMeta):
        pass

    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi2pk = UnicodeAttribute(null=True)  # "{target}#ASSETS", e.g. "RELEASE#abc#ASSETS"; absent without attach_to
    gsi2sk = UnicodeAttribute(null=True)  # "{created}#{asset_id}"
    # The library's lists by source and by type (issue 11); same sort key as gsi1. Absent on assets made before
    # them until the backfill writes them; all three are removed when a delete starts (the asset leaves every list).
    gsi3pk = UnicodeAttribute(null=True)  # "OWNER#{owner}#ASSETS#SOURCE#{source}"
    gsi3sk = UnicodeAttribute(null=True)  # "{created}#{asset_id}"
    gsi4pk = UnicodeAttribute(null=True)  # "OWNER#{owner}#ASSETS#TYPE#{kind}"
    gsi4sk = UnicodeAttribute(null=True)
    by_owner = AssetsByOwnerIndex()
    by_target = AssetsByTargetIndex()
    by_source = AssetsBySourceIndex()
    by_type = AssetsByTypeIndex()

    asset_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    kind = UnicodeAttribute(default="image")
    source = UnicodeAttribute(default="upload")
    status = UnicodeAttribute()
    upload_key = UnicodeAttribute()
    declared_content_type = UnicodeAttribute()
    declared_bytes = NumberAttribute()
    max_bytes = NumberAttribute()
    filename = UnicodeAttribute(null=True)
    attach_to = UnicodeAttribute(null=True)  # "{TYPE}#{owner_id}#{role}", e.g. "RELEASE#abc#cover"
    source_etag = UnicodeAttribute(null=True)
    source_sequencer = UnicodeAttribute(null=True)
    run_id = UnicodeAttribute(null=True)
    received_bytes = NumberAttribute(null=True)
    media: MapAttribute[str, Any] = MapAttribute(null=True)
    error: MapAttribute[str, Any] = MapAttribute(null=True)
    attempts = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    # An upscaling result: the original it enhances and the job that made it (``source`` ``ai_upscaled``).
    original_asset_id = UnicodeAttribute(null=True)
    job_id = UnicodeAttribute(null=True)
    # On an original: its newest enhancement job, and ``{"asset_id", "model", "ai", "enhanced_at", "job_id"}`` once
    # one succeeded (``models.domain.AssetEnhancement``).
    enhancement_job_id = UnicodeAttribute(null=True)
    enhancement: MapAttribute[str, Any] = MapAttribute(null=True)
    # The media library (issue 11; models.domain.Asset documents each). Maps hold models.media dumps.
    title = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    tags: ListAttribute[UnicodeAttribute] = ListAttribute(of=UnicodeAttribute, null=True)
    visibility = UnicodeAttribute(null=True)  # absent: private
    source_url = UnicodeAttribute(null=True)
    enhancement_type = UnicodeAttribute(null=True)
    creator_description = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    ai_metadata: MapAttribute[str, Any] = MapAttribute(null=True)
    music_metadata: MapAttribute[str, Any] = MapAttribute(null=True)
    album_art: MapAttribute[str, Any] = MapAttribute(null=True)
    # On an image imported for another asset's ``album_art.source_url``: that asset's id (same owner), whose
    # ``album_art`` gets this image's type, bytes and size once it is ready (services/imports.py).
    album_art_of = UnicodeAttribute(null=True)
    checksum_sha256 = UnicodeAttribute(null=True)
    video: MapAttribute[str, Any] = MapAttribute(null=True)
    deleted_at = UTCDateTimeAttribute(null=True)


class AttachmentRecord(_BaseRecord):
    """Which asset fills a role (``cover``…) of an owner object (a release…), and the newest upload started for it.

    ``asset_id`` only moves to a newer ready asset; ``latest_asset_id`` only to a newer upload (by creation time).
    """

    class Meta(_TableMeta):
        pass

    owner_id = UnicodeAttribute()
    asset_id = UnicodeAttribute(null=True)
    asset_created_at = UTCDateTimeAttribute(null=True)
    attached_at = UTCDateTimeAttribute(null=True)
    latest_asset_id = UnicodeAttribute(null=True)
    latest_created_at = UTCDateTimeAttribute(null=True)


class MediaAttachmentRecord(_BaseRecord):
    """A media asset attached to an owner object of the caller (``chalicelib.store.media_attachments``).

    pk ``ATTACH#{owner}#{owner_type}#{owner_id}`` (one Query lists an object's attachments; ``owner`` is the caller,
    so a client type such as ``scene/x`` is the caller's own); sk ``cover`` (one per object: written with a
    condition on the holder) or ``{role}#{sort_order:010d}#{attachment_id}`` (ordered roles). ``meta_json``: the
    client's ``meta`` object as JSON text.
    """

    class Meta(_TableMeta):
        pass

    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    by_asset = AttachmentsByAssetIndex()

    attachment_id = UnicodeAttribute()
    asset_id = UnicodeAttribute()
    owner = UnicodeAttribute()
    owner_type = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    role = UnicodeAttribute()
    sort_order = NumberAttribute(default=0)
    meta_json = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()


class ShareLinkRecord(_BaseRecord):
    """A public share link of a release, a media asset or a collection (an owner object's attached media). Only the
    SHA-256 of the token's secret is stored.

    ``target`` None or ``release``: ``release_id`` (every link written before issue 11); ``asset``: ``asset_id``;
    ``collection``: ``collection_type``/``collection_id`` (the owner object's ``owner_type``/``owner_id``). gsi1 is
    the shared thing's partition of links (``RELEASE#{id}#SHARES``, ``ASSET#{id}#SHARES``,
    ``COLLECTION#{owner}#{type}#{id}#SHARES``).
    """

    class Meta(_TableMeta):
        pass

    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    by_release = ShareLinksByReleaseIndex()

    token_id = UnicodeAttribute()
    secret_sha256 = UnicodeAttribute()
    release_id = UnicodeAttribute(null=True)
    target = UnicodeAttribute(null=True)
    asset_id = UnicodeAttribute(null=True)
    collection_type = UnicodeAttribute(null=True)
    collection_id = UnicodeAttribute(null=True)
    owner_id = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute(null=True)
    revoked_at = UTCDateTimeAttribute(null=True)


class DownloadCountRecord(_BaseRecord):
    """Downloads of one size through one share link, incremented atomically with ``ADD``.

    ``gsi1pk``/``gsi1sk`` put the counter beside its link in the release's gsi1 partition (set on every increment;
    counters written before they existed have none).
    """

    class Meta(_TableMeta):
        pass

    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    count = NumberAttribute(default=0)  # type: ignore[assignment]  # shadows Model.count, a classmethod


class JobsByOwnerIndex(GlobalSecondaryIndex["JobRecord"]):
    """gsi1: an owner's jobs, newest first with ``scan_index_forward=False``."""

    class Meta(_Gsi1Meta):
        pass

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class JobsByStatusIndex(GlobalSecondaryIndex["JobRecord"]):
    """gsi2: an owner's jobs in one status, newest first."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class OpenJobsIndex(GlobalSecondaryIndex["JobRecord"]):
    """gsi3 (sparse): every queued or running job, earliest deadline first (the reaper and the poller)."""

    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class JobRecord(_BaseRecord):
    """An asynchronous job (``models.jobs.Job``; ``chalicelib.store.jobs``). Every status change is a conditional
    update on the status read, rewriting ``gsi2pk`` with it; ``gsi3pk``/``gsi3sk`` are removed when it ends.

    ``output_claimed_at``: when a report of the job's output claimed it (once, with a lease); ``result_model`` and
    ``result_ai``: the label and AI flag of the output being ingested; ``resends``: job.run messages the reaper sent
    again for a job still queued.
    """

    class Meta(_TableMeta):
        pass

    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    by_owner = JobsByOwnerIndex()
    by_status = JobsByStatusIndex()
    open_jobs = OpenJobsIndex()

    job_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    provider = UnicodeAttribute()
    model = UnicodeAttribute()
    status = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    resends = NumberAttribute(default=0)
    input: MapAttribute[str, Any] = MapAttribute(null=True)
    error: MapAttribute[str, Any] = MapAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    started_at = UTCDateTimeAttribute(null=True)
    finished_at = UTCDateTimeAttribute(null=True)
    deadline_at = UTCDateTimeAttribute(null=True)
    result_asset_id = UnicodeAttribute(null=True)
    external_id = UnicodeAttribute(null=True)
    output_claimed_at = UTCDateTimeAttribute(null=True)
    result_model = UnicodeAttribute(null=True)
    result_ai = BooleanAttribute(null=True)


class ArtworkImportRecord(_BaseRecord):
    """The legacy backfill's import of a release's ``artwork_url`` as its cover (``RELEASE#{id}`` /
    ``BACKFILL#artwork``; ``chalicelib.store.backfill``): an item of its own, so the release's versioned Put never
    drops it, and the release's purge removes it with the partition.

    ``state``: ``claimed`` (a worker is starting the import since ``claimed_at``), ``started`` (``asset_id`` is the
    import's asset), ``refused`` (``refusal``: the import's error code for ``source_url``), ``covered`` (the release
    had a cover or an upload already: nothing imported). Put with ``attribute_not_exists`` (or over a claim older than
    the lease), so a redelivered message starts no second import.
    """

    class Meta(_TableMeta):
        pass

    release_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    source_url = UnicodeAttribute()
    state = UnicodeAttribute()
    claimed_at = UTCDateTimeAttribute()
    asset_id = UnicodeAttribute(null=True)
    refusal = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute()


class BackfillCheckpointRecord(_BaseRecord):
    """Where the legacy backfill's Scan stopped (``BACKFILL#media`` / ``CHECKPOINT``; ``chalicelib.store.backfill``).

    ``last_key``: the Scan's LastEvaluatedKey (DynamoDB JSON, as text) after the last page sent, or the key of the
    last item sent when ``--limit`` stopped inside a page; None once the pass reached the end (``finished_at``).
    ``scanned``/``sent``: items read and messages sent in this pass. ``dead_lettered``: backfill messages the
    dead-letter consumer counted (ADD, never reset by a pass).
    """

    class Meta(_TableMeta):
        pass

    last_key = UnicodeAttribute(null=True)
    scanned = NumberAttribute(default=0)
    sent = NumberAttribute(default=0)
    dead_lettered = NumberAttribute(default=0)
    started_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)
    finished_at = UTCDateTimeAttribute(null=True)


class PreferencesRecord(_BaseRecord):
    """An owner's artwork preferences (``OWNER#{owner}`` / ``PREFERENCES#artwork``); absent means the defaults."""

    class Meta(_TableMeta):
        pass

    owner_id = UnicodeAttribute()
    auto_enhance_low_res = BooleanAttribute()
    prefer_ai_enhancement = BooleanAttribute()
    allow_ai_enhancement = BooleanAttribute()
    updated_at = UTCDateTimeAttribute()


class WebhookReceiptRecord(_BaseRecord):
    """A webhook id seen once (``WEBHOOK#{webhook-id}`` / ``WEBHOOK``), put with ``attribute_not_exists``: a second put
    is a replay. ``ttl`` (epoch seconds, = ``expires_at``) lets DynamoDB's TTL delete it once no replay can pass the
    timestamp check."""

    class Meta(_TableMeta):
        pass

    webhook_id = UnicodeAttribute()
    received_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    ttl = NumberAttribute()


class NameCounterRecord(_BaseRecord):
    """The last number given to an owner's generated names with one prefix (``OWNER#{owner}`` /
    ``NAMESEQ#{layer}.{CATEGORY}.{SUBCATEGORY}``), raised by an atomic UpdateItem ``ADD seq 1``."""

    class Meta(_TableMeta):
        pass

    seq = NumberAttribute(default=0)


class MediaTermRecord(_BaseRecord):
    """One word of a media asset's searched fields (``services/search_terms.py``): pk ``SEARCH#{owner}#{first
    character}``, sk ``{token}#{asset_id}`` (a query word is a ``begins_with(sk, word)`` Query of one partition).

    Short attribute names keep the item small (a Query's read units are its items' bytes / 4 KB): ``w`` the word's best
    field weight, ``f`` the fields it occurs in as letters (``search_terms.FIELD_CODES``), ``c`` the asset's creation
    time in epoch ms (newest first among equal scores, without reading the asset).
    """

    class Meta(_TableMeta):
        pass

    weight = NumberAttribute(attr_name="w")
    field_codes = UnicodeAttribute(attr_name="f")
    created_ms = NumberAttribute(attr_name="c")


class MediaTagRecord(_BaseRecord):
    """A media asset under one of its tags: pk ``TAG#{owner}#{tag_key}``, sk ``{created iso}#{asset_id}`` (a Query
    lists the tag's assets newest first). The key is the whole item."""

    class Meta(_TableMeta):
        pass


RECORDS: tuple[type[Model], ...] = (
    NameCounterRecord,
    CatalogueRecord,
    ReleaseRecord,
    TrackRecord,
    CollaboratorRecord,
    HistoryRecord,
    IsrcClaimRecord,
    SyncStateRecord,
    CleanupRecord,
    AssetRecord,
    MediaTermRecord,
    MediaTagRecord,
    AttachmentRecord,
    MediaAttachmentRecord,
    ShareLinkRecord,
    DownloadCountRecord,
    JobRecord,
    PreferencesRecord,
    WebhookReceiptRecord,
    ArtworkImportRecord,
    BackfillCheckpointRecord,
)


def bind_records(*, table_name: str, region: str, host: str | None) -> None:
    """Point every record class at ``table_name`` in ``region`` (through ``host``, moto's URL locally).

    Drops cached connections so the next call uses the new binding.
    """
    for record in RECORDS:
        record.Meta.table_name = table_name
        record.Meta.region = region
        record.Meta.host = host
        record._connection = None
