"""Content-addressed blob storage for normalized avatar images (key = sha256 hex of the bytes)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Final, Protocol

import anyio

_SHA256_RE: Final = re.compile(r"[0-9a-f]{64}")


class BlobStore(Protocol):
    async def put(self, data: bytes, content_type: str) -> str:
        """Store `data` and return its sha256 hex; storing the same bytes again is a no-op."""
        ...

    async def get(self, sha256: str) -> bytes | None: ...

    async def exists(self, sha256: str) -> bool: ...


def check_sha256_key(key: str) -> str:
    """Return `key` if it is 64 lower-case hex digits; anything else (e.g. "../") is a ValueError."""
    if not _SHA256_RE.fullmatch(key):
        raise ValueError("blob key must be 64 lower-case hex digits")
    return key


class LocalBlobStore:
    """Files at root/ab/cd/<sha256>, written atomically. The content type lives with the caller's row."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def path_for(self, sha256: str) -> Path:
        key = check_sha256_key(sha256)
        return self._root / key[:2] / key[2:4] / key

    async def put(self, data: bytes, content_type: str) -> str:
        key = hashlib.sha256(data).hexdigest()
        await anyio.to_thread.run_sync(self._write_once, self.path_for(key), data)
        return key

    async def get(self, sha256: str) -> bytes | None:
        return await anyio.to_thread.run_sync(_read_or_none, self.path_for(sha256))

    async def exists(self, sha256: str) -> bool:
        return await anyio.to_thread.run_sync(self.path_for(sha256).is_file)

    @staticmethod
    def _write_once(path: Path, data: bytes) -> None:
        if path.is_file():
            return  # same key, same bytes: nothing to do
        path.parent.mkdir(parents=True, exist_ok=True)
        # Temp file in the target directory so os.replace is a same-filesystem atomic rename: readers
        # see either no file or the whole file, and concurrent writers of one key both succeed.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
