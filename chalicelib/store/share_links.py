"""Share links in the single table (``SHARE#{token_id}``) and their per-size download counters."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import UpdateError

from chalicelib.models.domain import ShareLink
from chalicelib.store.dynamo import get_item, is_condition_failure, utcnow
from chalicelib.store.records import DownloadCountRecord, ShareLinkRecord


def _share_link(record: ShareLinkRecord, downloads: dict[str, int] | None = None) -> ShareLink:
    return ShareLink(
        token_id=record.token_id,
        release_id=record.release_id,
        owner_id=record.owner_id,
        created_at=record.created_at,
        expires_at=record.expires_at,
        revoked_at=record.revoked_at,
        downloads=downloads or {},
    )


class ShareLinkRepository:
    """Share links (``SHARE#{token_id}``) and their per-size download counters."""

    def create(
        self, *, token_id: str, secret_sha256: str, release_id: str, owner_id: str, expires_at: datetime | None
    ) -> ShareLink:
        """Store a new share link (the token's secret only as its SHA-256 hex digest)."""
        now = utcnow()
        record = ShareLinkRecord(
            pk=f"SHARE#{token_id}",
            sk="SHARE",
            gsi1pk=f"RELEASE#{release_id}#SHARES",
            gsi1sk=f"{now.isoformat()}#{token_id}",
            token_id=token_id,
            secret_sha256=secret_sha256,
            release_id=release_id,
            owner_id=owner_id,
            created_at=now,
            expires_at=expires_at,
        )
        record.save(condition=ShareLinkRecord.pk.does_not_exist())
        return _share_link(record)

    def get_with_hash(self, token_id: str) -> tuple[ShareLink, str] | None:
        """The share link and its stored secret hash, or None."""
        record = get_item(ShareLinkRecord, f"SHARE#{token_id}", "SHARE")
        return (_share_link(record), record.secret_sha256) if record else None

    def list_by_release(self, release_id: str) -> list[ShareLink]:
        """A release's share links, newest first, with their download counts."""
        records = ShareLinkRecord.by_release.query(f"RELEASE#{release_id}#SHARES", scan_index_forward=False)
        return [_share_link(r, self.download_counts(r.token_id)) for r in records]

    def revoke(self, token_id: str) -> bool:
        """Revoke (idempotent: the first revocation time is kept). False if the link does not exist."""
        record = ShareLinkRecord(pk=f"SHARE#{token_id}", sk="SHARE")
        try:
            record.update(
                actions=[ShareLinkRecord.revoked_at.set(ShareLinkRecord.revoked_at | utcnow())],
                condition=ShareLinkRecord.pk.exists(),
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def count_download(self, token_id: str, size: str) -> None:
        """Add one download of ``size`` (atomic ``ADD``; creates the counter on first use)."""
        DownloadCountRecord(pk=f"SHARE#{token_id}", sk=f"DOWNLOADS#{size}").update(
            actions=[DownloadCountRecord.count.add(1)]
        )

    def download_counts(self, token_id: str) -> dict[str, int]:
        """``{size: downloads}`` of a share link (one Query on its partition)."""
        counts: dict[str, int] = {}
        for record in DownloadCountRecord.query(f"SHARE#{token_id}", DownloadCountRecord.sk.startswith("DOWNLOADS#")):
            counts[record.sk.removeprefix("DOWNLOADS#")] = int(record.count)
        return counts
