"""The bot's own compression of a backup: one zstd stream, compressed by every core.

pg_dump compresses each table alone on one core, with gzip in the embedded
build; the bot instead asks pg_dump for an uncompressed archive and
compresses the whole stream with zstd (the ``zstandard`` package), in as
many worker threads as the process may use. The frame carries zstd's
content checksum, so decompressing proves the bytes are the ones compressed.
A ``custom`` backup (pg_dump's own compression, or none) passes through as is.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Protocol

import zstandard

from commands.backup.records import ArchiveFormat

DECODE_SLICE = 64 << 10  # compressed bytes decoded at a time, so each output stays small


class StreamDecodeError(Exception):
    """The stored stream does not decompress: it was changed, damaged or cut short."""


class Encoder(Protocol):
    """Turns pg_dump's output into the stored stream, chunk by chunk. Each chunk is a
    view of a buffer the caller reads into again: what is kept must be copied."""

    def update(self, chunk: memoryview) -> bytes: ...

    def finish(self) -> bytes: ...


class Decoder(Protocol):
    """Turns the stored stream back into the archive, in pieces of bounded size."""

    def decode(self, chunk: bytes) -> Iterator[bytes]: ...

    def finish(self) -> None: ...


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, as a container's cpuset sets it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Passthrough:
    """The stream as it is (a ``custom`` archive: pg_dump compressed it, or nothing did)."""

    def update(self, chunk: memoryview) -> bytes:
        return bytes(chunk)

    def finish(self) -> bytes:
        return b""


class PassthroughDecoder:
    """The stored stream is the archive: each chunk as it comes."""

    def decode(self, chunk: bytes) -> Iterator[bytes]:
        yield chunk

    def finish(self) -> None:
        """Nothing is held back."""


class ZstdEncoder:
    """One zstd frame with a content checksum, compressed by ``threads`` workers."""

    def __init__(self, level: int, threads: int) -> None:
        compressor = zstandard.ZstdCompressor(level=level, threads=threads, write_checksum=True)
        self._stream = compressor.compressobj()

    def update(self, chunk: memoryview) -> bytes:
        return self._stream.compress(chunk)

    def finish(self) -> bytes:
        return self._stream.flush()


class ZstdDecoder:
    """Decompresses one zstd frame; raises ``StreamDecodeError`` on damage (the frame's
    checksum), on bytes after the frame and, in ``finish``, on a frame cut short. (The
    library's readers take a cut-short frame for a whole one: hence this.)"""

    def __init__(self) -> None:
        self._stream = zstandard.ZstdDecompressor().decompressobj(read_across_frames=False)
        self.read = 0

    def decode(self, chunk: bytes) -> Iterator[bytes]:
        view = memoryview(chunk)
        for start in range(0, len(view), DECODE_SLICE):
            piece = view[start : start + DECODE_SLICE]
            if self._stream.eof:
                raise StreamDecodeError(f"bytes follow the end of the zstd stream at {self.read:,}")
            try:
                data = self._stream.decompress(piece)
            except zstandard.ZstdError as exc:
                raise StreamDecodeError(f"{exc}, past byte {self.read:,}") from None
            self.read += len(piece) - len(self._stream.unused_data)
            if self._stream.unused_data:
                raise StreamDecodeError(f"bytes follow the end of the zstd stream at {self.read:,}")
            if data:
                yield data

    def finish(self) -> None:
        if not self._stream.eof:
            raise StreamDecodeError(f"the zstd stream ends early, after {self.read:,} bytes")


def encoder_for(archive_format: ArchiveFormat, level: int | None) -> Encoder:
    """What turns pg_dump's output into the stored stream."""
    if archive_format is ArchiveFormat.CUSTOM_ZSTD:
        assert level is not None
        return ZstdEncoder(level, available_cores())
    return Passthrough()


def decoder_for(archive_format: ArchiveFormat) -> Decoder:
    """What turns the stored stream back into the archive pg_restore reads."""
    if archive_format is ArchiveFormat.CUSTOM_ZSTD:
        return ZstdDecoder()
    return PassthroughDecoder()
