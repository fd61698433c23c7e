"""An owner's artwork preferences: one item ``OWNER#{owner}`` / ``PREFERENCES#artwork``; absent means the defaults."""

from __future__ import annotations

from chalicelib.models.jobs import ArtworkPreferences
from chalicelib.store.dynamo import get_item, utcnow
from chalicelib.store.records import PreferencesRecord

PREFERENCES_SK = "PREFERENCES#artwork"


class PreferencesRepository:
    """Artwork preferences by owner (GetItem / PutItem)."""

    def get(self, owner_id: str) -> ArtworkPreferences:
        """The owner's preferences (strongly consistent), or ``ArtworkPreferences()``'s defaults when never set."""
        record = get_item(PreferencesRecord, f"OWNER#{owner_id}", PREFERENCES_SK)
        if record is None:
            return ArtworkPreferences()
        return ArtworkPreferences.model_validate(record.attribute_values)

    def put(self, owner_id: str, preferences: ArtworkPreferences) -> ArtworkPreferences:
        """Store ``preferences`` whole (the last write wins); returns what was written."""
        PreferencesRecord(
            f"OWNER#{owner_id}", PREFERENCES_SK, owner_id=owner_id, updated_at=utcnow(), **preferences.model_dump()
        ).save()
        return preferences
