"""Helpers of the media library tests: uploads through ``POST /media/uploads``, metadata assets, seeded assets, and
what is left of an asset in the bucket and the table."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
from chalice.test import Client

from chalicelib.models.media import LibraryFields
from tests.integration.conftest import BUCKET, TABLE, Aws, body_of, call


def media_upload(
    client: Client,
    aws: Aws,
    data: bytes,
    *,
    content_type: str = "image/jpeg",
    subject: str = "alice",
    **fields: Any,
) -> str:
    """Presign a library upload with ``fields`` and put ``data`` at its key (moto does not serve the POST form
    in-process); the asset id."""
    body = {"content_type": content_type, "content_length": len(data), **fields}
    response = call(client, "POST", "/media/uploads", body, subject=subject)
    assert response.status_code == 201, response.body
    ticket = body_of(response)
    aws.s3.put_object(Bucket=BUCKET, Key=ticket["fields"]["key"], Body=data, ContentType=content_type)
    return str(ticket["asset_id"])


def create_media(client: Client, *, subject: str = "alice", **fields: Any) -> dict[str, Any]:
    """A metadata-only asset of ``subject`` (``POST /media``), as answered."""
    response = call(client, "POST", "/media", fields, subject=subject)
    assert response.status_code == 201, response.body
    return dict(body_of(response))


def seed_asset(owner_id: str = "alice", *, source: str = "upload", **library: Any) -> str:
    """A ready metadata-only asset written through the repository (faster than the API for long lists); its id."""
    from chalicelib.container import get_asset_repository

    asset_id = uuid.uuid4().hex
    get_asset_repository().create_pending(
        asset_id=asset_id,
        owner_id=owner_id,
        upload_key=f"uploads/{owner_id}/{asset_id}",
        declared_content_type="",
        declared_bytes=0,
        max_bytes=0,
        filename=None,
        attach_to=None,
        source=source,  # type: ignore[arg-type]
        library=LibraryFields(**library),
        status="ready",
    )
    return asset_id


def list_all(client: Client, query: str = "", *, subject: str = "alice", limit: int = 5) -> list[list[str]]:
    """Every page of ``GET /media?{query}`` (ids per page), following ``next_cursor`` to the end."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        path = f"/media?limit={limit}" + (f"&{query}" if query else "") + (f"&cursor={cursor}" if cursor else "")
        response = call(client, "GET", path, subject=subject)
        assert response.status_code == 200, response.body
        page = body_of(response)
        pages.append([item["id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the list does not end"


def leftovers(asset_id: str) -> dict[str, list[Any]]:
    """What the bucket and the table still hold of ``asset_id``: every key naming it, every item whose key or
    attributes mention it (a Scan: a test may read the whole table)."""
    s3 = boto3.client("s3", region_name="us-east-1")
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for item in page.get("Contents", [])
        if asset_id in item["Key"]
    ]
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    items = [
        item
        for page in dynamodb.get_paginator("scan").paginate(TableName=TABLE)
        for item in page["Items"]
        if asset_id in str(item)
    ]
    return {"objects": keys, "items": items}
