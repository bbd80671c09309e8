"""GET /avatars/{id}/image: bearer tokens, tenancy, onboarding clients, ETag and caching headers."""

from __future__ import annotations

import hashlib
from io import BytesIO

import httpx
import pytest
from PIL import Image

from tests.conftest import PlatformClient, get_token, make_platform
from tests.registry.avatars.helpers import encode, make_avatar, photo, room_operator, with_alpha
from tests.schema.avatar_helpers import onboarded_room_operator, register_avatar

pytestmark = pytest.mark.usefixtures("db")


async def fetch(client: httpx.AsyncClient, avatar_id: str, token: str | None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await client.get(f"/avatars/{avatar_id}/image", headers=headers)


async def test_the_owning_platform_gets_the_normalized_image(
    client: httpx.AsyncClient, platform: PlatformClient
) -> None:
    avatar = await make_avatar(platform.id, (await room_operator(platform.id)).id, encode(photo(1, 300)))
    response = await fetch(client, avatar.id, await get_token(client, platform, "avatars:read"))

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["etag"] == f'"{avatar.image_sha256}"'
    assert response.headers["cache-control"] == "private, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert hashlib.sha256(response.content).hexdigest() == avatar.image_sha256
    assert Image.open(BytesIO(response.content)).size == (300, 300)


async def test_transparent_avatars_are_served_as_webp(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    avatar = await make_avatar(platform.id, (await room_operator(platform.id)).id, encode(with_alpha(photo(2))))
    response = await fetch(client, avatar.id, await get_token(client, platform, "avatars:read"))
    assert response.status_code == 200 and response.headers["content-type"] == "image/webp"
    assert Image.open(BytesIO(response.content)).mode == "RGBA"


@pytest.mark.parametrize("header", ['"{sha}"', 'W/"{sha}"', '"other", "{sha}"', "*"])
async def test_a_matching_etag_answers_not_modified(
    client: httpx.AsyncClient, platform: PlatformClient, header: str
) -> None:
    avatar = await make_avatar(platform.id, (await room_operator(platform.id)).id)
    token = await get_token(client, platform, "avatars:read")
    response = await fetch(client, avatar.id, token, **{"If-None-Match": header.format(sha=avatar.image_sha256)})
    assert response.status_code == 304 and response.content == b""
    assert response.headers["etag"] == f'"{avatar.image_sha256}"'
    assert response.headers["cache-control"] == "private, immutable"
    stale = await fetch(client, avatar.id, token, **{"If-None-Match": '"0000"'})
    assert stale.status_code == 200


async def test_tokens_and_tenancy(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    avatar = await make_avatar(platform.id, (await room_operator(platform.id)).id)
    missing = await fetch(client, avatar.id, None)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == 'Bearer realm="livegate"'
    assert (await fetch(client, avatar.id, "not.a.jwt")).status_code == 401
    no_scope = await fetch(client, avatar.id, await get_token(client, platform, "performers:read"))
    assert no_scope.status_code == 403

    other = await get_token(client, await make_platform(), "avatars:read")
    foreign = await fetch(client, avatar.id, other)
    assert foreign.status_code == 404
    unknown = await fetch(client, "ava_doesnotexist", await get_token(client, platform, "avatars:read"))
    assert unknown.status_code == 404 and unknown.json() == foreign.json()  # indistinguishable
    assert "etag" not in foreign.headers


async def test_the_onboarding_client_that_registered_it(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    client_token, performer_id = await onboarded_room_operator(client, token)
    own = (await register_avatar(client, client_token, performer_id, encode(photo(3))))["avatar"]
    by_platform = await make_avatar(platform.id, performer_id, encode(photo(4)))

    response = await fetch(client, own["id"], client_token)
    assert response.status_code == 200 and response.headers["etag"] == f'"{own["sha256"]}"'
    assert (await fetch(client, by_platform.id, client_token)).status_code == 404
