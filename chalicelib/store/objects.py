"""The S3 object store: presigned POSTs and GETs, reads and writes of the media bucket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.errors import NotFoundError, PayloadTooLargeError, PreconditionFailedError

#: DeleteObjects takes at most this many keys per request (S3 API reference, DeleteObjects).
DELETE_BATCH = 1000


class ObjectReplacedError(PreconditionFailedError):
    """The object at a key is no longer the version asked for (``If-Match`` failed: S3 answered 412)."""

    default_code = "object_replaced"


@dataclass(frozen=True)
class ObjectHead:
    """What HEAD says of an object: ``size`` bytes, ``etag`` (no quotes), ``content_type``, user ``metadata``."""

    size: int
    etag: str
    content_type: str | None
    metadata: dict[str, str]


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}


def _replaced(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in {"412", "PreconditionFailed"}


class ObjectStore:
    """One bucket, through an injected boto3 S3 client (moto's endpoint locally and in tests)."""

    def __init__(self, s3_client: Any, bucket: str) -> None:
        self._s3 = s3_client
        self.bucket = bucket

    def presign_post(
        self, key: str, *, content_type: str, max_bytes: int, expires_in: int
    ) -> tuple[str, dict[str, str]]:
        """A presigned POST for exactly ``key``, exactly ``content_type``, 1..``max_bytes`` bytes, ``expires_in`` s.

        Returns ``(url, fields)``: the browser posts the fields, then the file (form field ``file``, last).
        Source: S3 docs, "Browser-based uploads using POST (AWS Signature Version 4)" — policy conditions.
        """
        post = self._s3.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in,
        )
        return post["url"], {k: str(v) for k, v in post["fields"].items()}

    def presign_get(
        self,
        key: str,
        *,
        expires_in: int,
        content_disposition: str | None = None,
        content_type: str | None = None,
    ) -> str:
        """A presigned GET URL valid ``expires_in`` s; S3 answers with the given Content-Disposition/Content-Type."""
        params: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        if content_disposition:
            params["ResponseContentDisposition"] = content_disposition
        if content_type:
            params["ResponseContentType"] = content_type
        return str(self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in))

    def head(self, key: str) -> ObjectHead | None:
        """HEAD of ``key``, or None when it does not exist."""
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return ObjectHead(
            size=int(head["ContentLength"]),
            etag=head["ETag"].strip('"'),
            content_type=head.get("ContentType"),
            metadata=dict(head.get("Metadata") or {}),
        )

    def get_bytes(self, key: str, *, max_bytes: int | None = None, if_match: str | None = None) -> bytes:
        """The object's bytes; with ``if_match`` (an ETag, quotes optional) only if the object still has that ETag.

        Raises ``NotFoundError`` if missing, ``ObjectReplacedError`` if ``if_match`` no longer matches (GetObject
        ``IfMatch``: S3 answers 412 once another object was written at the key), ``PayloadTooLargeError`` if it holds
        more than ``max_bytes`` (the read stops at ``max_bytes + 1`` so an oversized object is never loaded whole).
        """
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if if_match:
            kwargs["IfMatch"] = f'"{if_match.strip(chr(34))}"'
        try:
            response = self._s3.get_object(**kwargs)
        except ClientError as exc:
            if _missing(exc):
                raise NotFoundError(f"No object at {key}.", code="object_not_found") from exc
            if _replaced(exc):
                raise ObjectReplacedError(
                    f"The object at {key} was replaced.", details={"key": key, "etag": if_match}
                ) from exc
            raise
        body = response["Body"]
        data: bytes = body.read(max_bytes + 1) if max_bytes is not None else body.read()
        body.close()
        if max_bytes is not None and len(data) > max_bytes:
            raise PayloadTooLargeError(
                f"The object holds more than {max_bytes} bytes.", details={"max_bytes": max_bytes}
            )
        return data

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        cache_control: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        """Write ``data`` at ``key`` (server-side encrypted, private), with optional user ``metadata``."""
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": data,
            "ContentType": content_type,
            "ServerSideEncryption": "AES256",
        }
        if cache_control:
            kwargs["CacheControl"] = cache_control
        if metadata:
            kwargs["Metadata"] = metadata
        self._s3.put_object(**kwargs)

    def list_keys(self, prefix: str) -> list[str]:
        """Every key that starts with ``prefix`` (ListObjectsV2, all pages), in key order."""
        keys: list[str] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(str(item["Key"]) for item in page.get("Contents", []))
        return keys

    def delete_keys(self, keys: list[str]) -> None:
        """Delete ``keys`` (DeleteObjects, ``DELETE_BATCH`` per request); a key already gone is not an error.

        Raises ``RuntimeError`` naming the keys S3 reported as not deleted (the caller's retry deletes them later).
        """
        failed: list[str] = []
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": key} for key in keys[start : start + DELETE_BATCH]]
            response = self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            failed.extend(str(error.get("Key")) for error in response.get("Errors", []))
        if failed:
            raise RuntimeError(f"S3 did not delete {len(failed)} objects, e.g. {failed[0]}")

    def delete_prefixes(self, prefixes: list[str]) -> list[str]:
        """Delete every object under each of ``prefixes``; returns the keys deleted (idempotent)."""
        keys = [key for prefix in prefixes for key in self.list_keys(prefix)]
        if keys:
            self.delete_keys(keys)
        return keys
