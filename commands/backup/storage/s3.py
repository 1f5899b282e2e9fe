"""Backups in S3 or an S3-compatible store, through boto3.

Parts are uploaded while pg_dump is still writing (a few in flight at once),
and the object appears only when the upload is completed, after the dump was
verified; a failed backup aborts its upload so no parts are left to pay for.
What S3 holds is proven by checksums, not by downloading it: each part
carries the CRC32 of its bytes, which S3 checks on receipt and returns, and
once completed the object's own checksum (the CRC32 of its parts' CRC32s) and
size, asked for with ``head_object``, must equal those of the bytes written.
Credentials and region come from the usual AWS chain (environment, ~/.aws,
instance or task role), never from the targets file. With no
``s3_endpoint_url`` configured, boto3's own ``AWS_ENDPOINT_URL_S3`` applies.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import threading
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from commands.backup.storage.base import (
    READ_CHUNK,
    Leftover,
    StorageError,
    StorageUnavailableError,
    StoredBackup,
)
from commands.config.targets_file import TargetConfig

log = logging.getLogger(__name__)

MIB = 1 << 20
MAX_PARTS_IN_FLIGHT = 4
PARTS_PER_SIZE_STEP = 1000
MAX_PART_BYTES = 5 * 1024 * MIB
CHECKSUM = "CRC32"  # the algorithm of the upload: S3 checks each part against its CRC32
_DENIED = {"AccessDenied", "Forbidden", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


def part_size(number: int, base: int) -> int:
    """Size of part ``number``: ``base``, doubled every 1,000 parts, so S3's
    10,000-part limit is never reached while small dumps buffer little."""
    return min(base << ((number - 1) // PARTS_PER_SIZE_STEP), MAX_PART_BYTES)


def crc32_of(data: bytes) -> str:
    """S3's form of a CRC32: the four big-endian bytes, in base64."""
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def composite_crc32(part_checksums: list[str]) -> str:
    """The checksum S3 gives a multipart object: the CRC32 of its parts' CRC32s, ``-N``."""
    joined = b"".join(base64.b64decode(checksum) for checksum in part_checksums)
    return f"{crc32_of(joined)}-{len(part_checksums)}"


def s3_client(endpoint_url: str | None) -> Any:
    """A client from the standard AWS chain; ``None`` lets boto3 read ``AWS_ENDPOINT_URL_S3``."""
    config = BotoConfig(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        read_timeout=120,
        max_pool_connections=MAX_PARTS_IN_FLIGHT + 2,
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)


def storage_error(exc: Exception, doing: str, where: str, endpoint: str) -> StorageError:
    """A user-safe error for a boto3 failure, saying which of the usual causes it is."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _DENIED or status == 403:
            return StorageError(
                f"access denied {doing} {where} ({code or status}): check the bot's AWS"
                " credentials and that their policy allows it"
            )
        if code == "NoSuchBucket" or (code == "404" and doing == "checking"):
            bucket = where.removeprefix("s3://").split("/", 1)[0]
            return StorageError(f"S3 bucket {bucket!r} does not exist (at {endpoint})")
        message = error.get("Message") or str(exc)
        return StorageError(f"S3 refused {doing} {where}: {code}: {message}")
    if isinstance(exc, NoCredentialsError):
        return StorageError(
            "no AWS credentials found: give them the usual AWS way (environment,"
            " ~/.aws, instance or task role)"
        )
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return StorageUnavailableError(f"cannot reach S3 at {endpoint} {doing} {where}: {exc}")
    return StorageError(f"S3 failed {doing} {where}: {exc}")


class S3Destination:
    """Backups as objects under ``s3://bucket/prefix``."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        *,
        client: Any,
        sse: str = "AES256",
        kms_key_id: str | None = None,
        part_size_mb: int = 16,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.sse = sse
        self.kms_key_id = kms_key_id
        self.part_size = part_size_mb * MIB
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    @classmethod
    def for_target(cls, base_uri: str, target: TargetConfig) -> S3Destination:
        bucket, _, prefix = base_uri.removeprefix("s3://").partition("/")
        return cls(
            bucket,
            prefix,
            client=s3_client(target.s3_endpoint_url),
            sse=target.s3_sse,
            kms_key_id=target.s3_kms_key_id,
            part_size_mb=target.s3_part_size_mb,
        )

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def key_of(self, uri: str) -> str:
        return uri.removeprefix(f"s3://{self.bucket}/")

    def encryption(self) -> dict[str, str]:
        """The SSE arguments every write carries."""
        if self.sse == "none":
            return {}
        return {"ServerSideEncryption": self.sse} | (
            {"SSEKMSKeyId": self.kms_key_id} if self.kms_key_id else {}
        )

    def call(self, doing: str, where: str, operation: Callable[..., Any], **kwargs: Any) -> Any:
        """Run one boto3 operation, turning its failures into ``StorageError``."""
        try:
            return operation(Bucket=self.bucket, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise storage_error(exc, doing, where, self.client.meta.endpoint_url) from None

    def check(self) -> None:
        """Fail fast, before pg_dump starts, on a wrong bucket, credentials or endpoint."""
        self.call("checking", self.uri, self.client.head_bucket)

    def exists(self, name: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(name))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                return False
            raise storage_error(exc, "checking", self.uri, self.client.meta.endpoint_url) from None
        return True

    def writer(self, name: str) -> S3Writer:
        return S3Writer(self, self.key(name))

    def local_path(self, uri: str) -> None:
        return None

    def read(self, uri: str) -> Iterator[bytes]:
        response = self.call("downloading", uri, self.client.get_object, Key=self.key_of(uri))
        try:
            yield from response["Body"].iter_chunks(READ_CHUNK)
        except (BotoCoreError, ClientError) as exc:
            raise storage_error(exc, "downloading", uri, self.client.meta.endpoint_url) from None

    def delete(self, uri: str) -> None:
        self.call("deleting", uri, self.client.delete_object, Key=self.key_of(uri))

    def leftovers(self, name_pattern: re.Pattern[str], name_prefix: str) -> list[Leftover]:
        """Multipart uploads of this target's backups never completed nor aborted."""
        found = []
        paginator = self.client.get_paginator("list_multipart_uploads")
        pages = self.call(
            "listing uploads in", self.uri, paginator.paginate, Prefix=self.key(name_prefix)
        )
        try:
            for page in pages:
                for upload in page.get("Uploads", []):
                    name = upload["Key"].rsplit("/", 1)[-1]
                    if name_pattern.match(name):
                        location = f"s3://{self.bucket}/{upload['Key']}"
                        found.append(Leftover("multipart upload", location, upload["UploadId"]))
        except (BotoCoreError, ClientError) as exc:
            raise storage_error(
                exc, "listing uploads in", self.uri, self.client.meta.endpoint_url
            ) from None
        return found

    def remove(self, leftover: Leftover) -> None:
        self.call(
            "aborting an upload of",
            leftover.location,
            self.client.abort_multipart_upload,
            Key=self.key_of(leftover.location),
            UploadId=leftover.handle,
        )


class S3Writer:
    """One backup streamed to S3: parts go up while the dump is written."""

    def __init__(self, destination: S3Destination, key: str) -> None:
        self.destination = destination
        self.key = key
        self.uri = f"s3://{destination.bucket}/{key}"
        self.size = 0
        self.digest = hashlib.sha256()
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._visible = False
        self._parts: list[Future[dict[str, Any]]] = []
        self._slots = threading.BoundedSemaphore(MAX_PARTS_IN_FLIGHT)
        self._pool = ThreadPoolExecutor(MAX_PARTS_IN_FLIGHT, thread_name_prefix="s3-part")

    def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        self.size += len(chunk)
        self.digest.update(chunk)
        while len(self._buffer) >= (size := self._next_part_size()):
            self._send(bytes(self._buffer[:size]))
            del self._buffer[:size]

    def _next_part_size(self) -> int:
        return part_size(len(self._parts) + 1, self.destination.part_size)

    def _send(self, body: bytes) -> None:
        """Queue one part; blocks while MAX_PARTS_IN_FLIGHT are still going up."""
        for sent in self._parts:
            if sent.done() and sent.exception() is not None:
                sent.result()  # raise the first failure now, not at the end
        if self._upload_id is None:
            started = self.destination.call(
                "starting the upload of",
                self.uri,
                self.destination.client.create_multipart_upload,
                Key=self.key,
                ChecksumAlgorithm=CHECKSUM,
                **self.destination.encryption(),
            )
            self._upload_id = started["UploadId"]
        number = len(self._parts) + 1
        self._slots.acquire()
        future = self._pool.submit(self._upload_part, number, body)
        future.add_done_callback(lambda _: self._slots.release())
        self._parts.append(future)

    def _upload_part(self, number: int, body: bytes) -> dict[str, Any]:
        checksum = crc32_of(body)
        response = self.destination.call(
            f"uploading part {number} of",
            self.uri,
            self.destination.client.upload_part,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm=CHECKSUM,
            ChecksumCRC32=checksum,  # ours: S3 checks the bytes it received against it
        )
        self._check(f"part {number}", response.get("ChecksumCRC32"), checksum)
        return {"PartNumber": number, "ETag": response["ETag"], "ChecksumCRC32": checksum}

    def commit(self) -> StoredBackup:
        """Complete the upload (or put a small dump whole); prove what S3 holds by its
        checksum and size."""
        dest = self.destination
        if self._upload_id is None:
            body = bytes(self._buffer)
            expected = crc32_of(body)
            dest.call(
                "uploading",
                self.uri,
                dest.client.put_object,
                Key=self.key,
                Body=body,
                ChecksumAlgorithm=CHECKSUM,
                ChecksumCRC32=expected,
                **dest.encryption(),
            )
        else:
            if self._buffer:
                self._send(bytes(self._buffer))
            parts = [sent.result() for sent in self._parts]
            expected = composite_crc32([part["ChecksumCRC32"] for part in parts])
            dest.call(
                "completing the upload of",
                self.uri,
                dest.client.complete_multipart_upload,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": parts},
            )
            self._upload_id = None
        self._visible = True
        self._buffer.clear()
        self._pool.shutdown()
        head = dest.call(
            "checking", self.uri, dest.client.head_object, Key=self.key, ChecksumMode="ENABLED"
        )
        if head["ContentLength"] != self.size:
            raise StorageError(
                f"{self.uri} holds {head['ContentLength']} bytes, not the {self.size} written"
            )
        held = head.get("ChecksumCRC32")
        if held is not None and "-" not in held:  # a store that leaves the part count off
            expected = expected.partition("-")[0]
        self._check("the object", held, expected)
        return StoredBackup(uri=self.uri, size=self.size, sha256=self.digest.hexdigest())

    def _check(self, what: str, held: str | None, written: str) -> None:
        """Raise ``StorageError`` unless S3's CRC32 of what it holds is that of the bytes
        written (a store that keeps no checksum is refused: nothing would be proven)."""
        if held != written:
            raise StorageError(
                f"{what} of {self.uri} is not what was written: S3 reports CRC32 {held},"
                f" the bytes written have {written}"
            )

    def abort(self) -> None:
        """Stop uploading and remove what was sent: the open upload, or the object."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._buffer.clear()
        dest = self.destination
        try:
            if self._upload_id is not None:
                dest.call(
                    "aborting the upload of",
                    self.uri,
                    dest.client.abort_multipart_upload,
                    Key=self.key,
                    UploadId=self._upload_id,
                )
                self._upload_id = None
            if self._visible:
                dest.delete(self.uri)
                self._visible = False
        except StorageError as exc:
            # start-up cleanup aborts what is left; the backup has failed either way
            log.warning("could not clean up %s: %s", self.uri, exc)
