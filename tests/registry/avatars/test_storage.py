"""Content-addressed local blob store: layout, idempotence, atomic writes and key validation."""

from __future__ import annotations

import hashlib
from pathlib import Path

import anyio
import pytest

from registry.avatars.storage import BlobStore, LocalBlobStore

DATA = b"\xff\xd8\xff normalized avatar bytes"
KEY = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


async def test_put_get_exists(store: LocalBlobStore, tmp_path: Path) -> None:
    assert not await store.exists(KEY)
    assert await store.get(KEY) is None

    assert await store.put(DATA, "image/jpeg") == KEY

    assert await store.exists(KEY)
    assert await store.get(KEY) == DATA
    assert files_under(tmp_path / "blobs") == [tmp_path / "blobs" / KEY[:2] / KEY[2:4] / KEY]


async def test_put_is_idempotent(store: LocalBlobStore, tmp_path: Path) -> None:
    first = await store.put(DATA, "image/jpeg")
    path = store.path_for(first)
    written_at = path.stat().st_mtime_ns

    assert await store.put(DATA, "image/jpeg") == first
    assert path.stat().st_mtime_ns == written_at  # not rewritten
    assert files_under(tmp_path / "blobs") == [path]  # and no temp file left behind


async def test_concurrent_puts_of_same_and_different_content(store: LocalBlobStore, tmp_path: Path) -> None:
    blobs = [DATA, b"other", DATA, b"third", DATA]
    async with anyio.create_task_group() as tg:
        for blob in blobs:
            tg.start_soon(store.put, blob, "image/png")
    for blob in set(blobs):
        assert await store.get(hashlib.sha256(blob).hexdigest()) == blob
    assert len(files_under(tmp_path / "blobs")) == 3


async def test_empty_blob_round_trips(store: LocalBlobStore) -> None:
    key = await store.put(b"", "image/png")
    assert await store.get(key) == b""


@pytest.mark.parametrize(
    "bad",
    [
        "../../../etc/passwd",
        "../" + KEY[3:],
        KEY.upper(),
        KEY[:-1],
        KEY + "0",
        KEY + "\n",
        "/" + KEY[1:],
        KEY[:62] + "/.",
        "",
    ],
)
async def test_malformed_key_is_refused(store: LocalBlobStore, bad: str) -> None:
    with pytest.raises(ValueError):
        await store.get(bad)
    with pytest.raises(ValueError):
        await store.exists(bad)
    with pytest.raises(ValueError):
        store.path_for(bad)


def test_local_store_satisfies_protocol(tmp_path: Path) -> None:
    store: BlobStore = LocalBlobStore(tmp_path)
    assert store is not None
