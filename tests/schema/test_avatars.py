"""Avatars through GraphQL over HTTP: the upload corpus, scopes, tenancy, onboarding clients, mutations."""

from __future__ import annotations

import resource
import struct
import time
import zlib
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import ExifTags, Image, ImageFile

from registry.avatars.images import normalize_image
from registry.avatars.models import Avatar
from tests.conftest import PlatformClient, get_token, gql, make_platform
from tests.factories import make_organization, make_performer
from tests.registry.avatars.helpers import blacklist_image, encode, likeness, make_avatar, photo, room_operator
from tests.registry.avatars.test_services import suspend
from tests.schema.avatar_helpers import (
    AVATAR_FIELDS,
    onboarded_room_operator,
    register_avatar,
    upload_gql,
)

pytestmark = pytest.mark.usefixtures("db")

AVATAR = f"query($id: ID!) {{ avatar(id: $id) {{ {AVATAR_FIELDS} }} }}"
SIMILAR = """query($image: Upload!, $d: Int, $first: Int) {
  similarAvatars(image: $image, maxDistance: $d, first: $first) {
    matches { distance avatar { id } } problems { code field }
  }
}"""


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(side: int = 40_000) -> bytes:
    """A valid 8-bit greyscale PNG of side x side black pixels (1.6 GB decoded) in about 1.5 MB.

    zlib's full flush resets the compressor, so one compressed block of 100 zero rows repeats byte for
    byte; the stream ends with an empty final block and the Adler-32 of N zero bytes, ((N % 65521) << 16) | 1.
    """
    row_bytes, rows_per_block = side + 1, 100
    block = bytes(row_bytes * rows_per_block)
    compressor = zlib.compressobj(9)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert first[2:] == repeat
    adler = ((row_bytes * side % 65521) << 16) | 1
    idat = first + repeat * (side // rows_per_block - 1) + b"\x03\x00" + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # stored sideways: 200 wide, 300 high; shown 300 x 200
    return encode(photo(73, 300).resize((300, 200)).transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif)


def nine_megabytes() -> bytes:
    noise = np.random.default_rng(5).integers(0, 256, (1800, 1700, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise, "RGB"), "PNG", compress_level=0)
    assert 9_000_000 < len(data) < 9_500_000
    return data


def corpus() -> dict[str, tuple[bytes, str, str | None]]:
    """name -> (bytes, declared type, expected problem code or None when accepted)."""
    gif_frames = [photo(s, 200).convert("P") for s in (70, 71)]
    webp_frames = [photo(s, 200) for s in (70, 71)]
    zip_payload = b"PK\x03\x04" + b"SECRET" * 100 + b"PK\x05\x06" + bytes(18)
    sixteen_bit = Image.fromarray(np.asarray(photo(74).convert("L"), dtype=np.uint16) * 257)
    assert sixteen_bit.mode == "I;16"
    return {
        "non-image bytes": (b"%PDF-1.4 this is not an image" * 20, "image/png", "INVALID_IMAGE"),
        "truncated PNG": (encode(photo(75))[:20_000], "image/png", "INVALID_IMAGE"),
        "40000x40000 PNG bomb": (png_bomb(), "image/png", "INVALID_IMAGE"),
        "PNG+ZIP polyglot as PNG": (encode(photo(76)) + zip_payload, "image/png", None),
        "PNG+ZIP polyglot as ZIP": (encode(photo(76)) + zip_payload, "application/zip", "INVALID_IMAGE"),
        "animated GIF": (
            encode(gif_frames[0], "GIF", save_all=True, append_images=gif_frames[1:], duration=100),
            "image/gif",
            "INVALID_IMAGE",
        ),
        "animated WebP": (
            encode(webp_frames[0], "WEBP", save_all=True, append_images=webp_frames[1:], duration=100),
            "image/webp",
            "INVALID_IMAGE",
        ),
        "CMYK JPEG": (encode(photo(77).convert("CMYK"), "JPEG"), "image/jpeg", None),
        "16-bit PNG": (encode(sixteen_bit, "PNG"), "image/png", None),
        "EXIF-rotated JPEG": (exif_rotated_jpeg(), "image/jpeg", None),
        "64x64 image": (encode(photo(78, 64)), "image/png", "INVALID_IMAGE"),
        "9 MB file": (nine_megabytes(), "image/png", "LIMIT_EXCEEDED"),
    }


async def call(client: httpx.AsyncClient, token: str, query: str, **variables: Any) -> tuple[dict[str, Any], list[Any]]:
    response = await gql(client, query, variables, token=token)
    assert response.status_code == 200, response.text
    body = response.json()
    return body.get("data") or {}, body.get("errors") or []


# ----------------------------------------------------------------------------------------- corpus


async def test_the_upload_corpus_through_register_avatar(
    client: httpx.AsyncClient, platform: PlatformClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await get_token(client, platform)
    operator = await room_operator(platform.id)
    decoded: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def spy(image: ImageFile.ImageFile) -> Any:
        decoded.append(image.size)
        return load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    for name, (data, declared, expected) in corpus().items():
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        payload = await register_avatar(client, token, operator.id, data, declared)
        elapsed = time.perf_counter() - started
        codes = [p["code"] for p in payload["problems"]]
        if expected is None:
            assert codes == [] and payload["avatar"]["status"] == "ACTIVE", (name, payload)
        else:
            assert codes == [expected] and payload["avatar"] is None, (name, payload)
            assert payload["problems"][0]["field"] == ["input", "image"], name
        if name == "40000x40000 PNG bomb":
            assert 1_400_000 < len(data) < 1_700_000 and "pixels" in payload["problems"][0]["message"]
            assert elapsed < 1.0, elapsed
            assert (40_000, 40_000) not in decoded  # refused from the header: no pixel was decoded
            grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
            assert grown_kib < 200 * 1024  # decoding would have needed 1.6 GB
        if name == "EXIF-rotated JPEG":
            assert (payload["avatar"]["width"], payload["avatar"]["height"]) == (300, 200)
    assert await Avatar.filter(platform_id=platform.id).count() == 4


# ------------------------------------------------------------------------------ reads and scopes


async def test_register_and_read_an_avatar(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    operator = await room_operator(platform.id)
    payload = await register_avatar(client, token, operator.id, encode(photo(80)), externalRef="av-9", label="AI")
    avatar = payload["avatar"]
    assert payload["problems"] == [] and avatar["id"].startswith("ava_")
    assert avatar["imageUrl"] == f"/avatars/{avatar['id']}/image"
    assert (avatar["kind"], avatar["label"], avatar["status"], avatar["likeness"]) == ("ORIGINAL", "AI", "ACTIVE", None)
    assert len(avatar["sha256"]) == 64 and len(avatar["perceptualHash"]) == 16

    data, errors = await call(client, token, AVATAR, id=avatar["id"])
    assert errors == [] and data["avatar"] == avatar
    nested = """query($id: ID!) {
      avatar(id: $id) { id operator { __typename ... on Performer { id avatars { edges { node { id } } } } }
                        drivers { id } }
      node(id: $id) { __typename id }
    }"""
    data, errors = await call(client, token, nested, id=avatar["id"])
    assert errors == []
    assert data["avatar"]["operator"] == {
        "__typename": "Performer",
        "id": operator.id,
        "avatars": {"edges": [{"node": {"id": avatar["id"]}}]},
    }
    assert data["avatar"]["drivers"] == [] and data["node"] == {"__typename": "Avatar", "id": avatar["id"]}

    other = await get_token(client, await make_platform())
    data, errors = await call(client, other, AVATAR, id=avatar["id"])
    assert errors == [] and data["avatar"] is None
    data, errors = await call(client, other, "query($id: ID!) { node(id: $id) { id } }", id=avatar["id"])
    assert errors == [] and data["node"] is None


async def test_scopes_guard_avatars_and_the_edges_into_performers(
    client: httpx.AsyncClient, platform: PlatformClient
) -> None:
    operator = await room_operator(platform.id)
    avatar = await make_avatar(platform.id, operator.id)
    avatars_only = await get_token(client, platform, "avatars:read")
    query = "query($id: ID!) { avatar(id: $id) { id name operator { __typename } drivers { id } } }"
    data, errors = await call(client, avatars_only, query, id=avatar.id)
    assert data["avatar"] == {"id": avatar.id, "name": "小星", "operator": None, "drivers": None}
    assert sorted(e["path"][-1] for e in errors) == ["drivers", "operator"]
    assert {e["extensions"]["code"] for e in errors} == {"FORBIDDEN"}

    performers_only = await get_token(client, platform, "performers:read")
    data, errors = await call(client, performers_only, AVATAR, id=avatar.id)
    assert data["avatar"] is None and errors[0]["extensions"]["code"] == "FORBIDDEN"
    nested = "query($id: ID!) { performer(id: $id) { id avatars { edges { node { id } } } } }"
    data, errors = await call(client, performers_only, nested, id=operator.id)
    assert data["performer"] == {"id": operator.id, "avatars": None}
    assert errors[0]["extensions"]["code"] == "FORBIDDEN" and errors[0]["path"] == ["performer", "avatars"]

    readers = await get_token(client, platform, "avatars:read performers:read")
    response = await upload_gql(
        client,
        "mutation($input: RegisterAvatarInput!) { registerAvatar(input: $input) { avatar { id } } }",
        {"input": {"name": "x", "operatorId": operator.id, "image": None}},
        {"input.image": (encode(photo(81)), "image/png")},
        token=readers,
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for mutation, variables in (
        (DRIVER, {"input": {"avatarId": avatar.id, "performerId": operator.id}}),
        (RETIRE, {"input": {"avatarId": avatar.id, "reason": "no write scope"}}),
    ):
        data, errors = await call(client, readers, mutation, **variables)
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_organization_avatars_are_listed_page_by_page(
    client: httpx.AsyncClient, platform: PlatformClient
) -> None:
    token = await get_token(client, platform)
    organization = await make_organization(platform.id)
    ids = [(await make_avatar(platform.id, organization.id, encode(photo(90 + i)), name=f"a{i}")).id for i in range(3)]
    query = """query($id: ID!, $after: String) { operatorOrganization(id: $id) {
      avatars(first: 2, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }"""
    data, errors = await call(client, token, query, id=organization.id)
    page = data["operatorOrganization"]["avatars"]
    assert errors == [] and page["pageInfo"]["hasNextPage"]
    data, _ = await call(client, token, query, id=organization.id, after=page["pageInfo"]["endCursor"])
    rest = data["operatorOrganization"]["avatars"]
    assert [e["node"]["id"] for e in page["edges"] + rest["edges"]] == ids and not rest["pageInfo"]["hasNextPage"]


# ------------------------------------------------------------------------------- onboarding client


async def test_an_onboarding_client_registers_and_reads_its_own_avatars(
    client: httpx.AsyncClient, platform: PlatformClient
) -> None:
    token = await get_token(client, platform)
    client_token, performer_id = await onboarded_room_operator(client, token)
    by_platform = await make_avatar(platform.id, performer_id, encode(photo(82)))
    someone_else = await room_operator(platform.id)

    refused = await register_avatar(client, client_token, someone_else.id, encode(photo(83)))
    assert [(p["code"], p["field"]) for p in refused["problems"]] == [("NOT_FOUND", ["input", "operatorId"])]
    payload = await register_avatar(client, client_token, performer_id, encode(photo(83)))
    own = payload["avatar"]
    assert payload["problems"] == [] and own is not None

    query = """query($id: ID!, $p: ID!) {
      avatar(id: $id) { id operator { ... on Performer { id } } }
      performer(id: $p) { avatars { edges { node { id } } } }
    }"""
    data, errors = await call(client, client_token, query, id=own["id"], p=performer_id)
    assert errors == []
    assert data["avatar"] == {"id": own["id"], "operator": {"id": performer_id}}
    assert data["performer"]["avatars"]["edges"] == [{"node": {"id": own["id"]}}]  # not the platform's avatar
    data, errors = await call(client, client_token, AVATAR, id=by_platform.id)
    assert errors == [] and data["avatar"] is None
    data, errors = await call(
        client, client_token, "query($id: ID!) { avatar(id: $id) { drivers { id } } }", id=own["id"]
    )
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    similar = await upload_gql(
        client, SIMILAR, {"image": None}, {"image": (encode(photo(83)), "image/png")}, token=client_token
    )
    assert similar.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_client_is_never_told_about_blacklists(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    client_token, performer_id = await onboarded_room_operator(client, token)
    banned = encode(photo(84))
    await blacklist_image(platform.id, normalize_image(banned, "image/png").phash)
    payload = await register_avatar(client, client_token, performer_id, banned)
    assert [p["code"] for p in payload["problems"]] == ["NOT_ELIGIBLE"]
    payload = await register_avatar(client, token, performer_id, banned)
    assert [(p["code"], p["field"]) for p in payload["problems"]] == [("BLACKLISTED", ["input", "image"])]


# -------------------------------------------------------------------------------------- mutations


DRIVER = """mutation($input: AvatarDriverInput!) {
  authorizeDriver(input: $input) { avatar { id drivers { id } } problems { code field } }
}"""
REVOKE_DRIVER = """mutation($input: AvatarDriverInput!) {
  revokeDriver(input: $input) { avatar { id drivers { id } } problems { code field } }
}"""
TRANSFER = """mutation($input: TransferAvatarInput!) {
  transferAvatar(input: $input) { avatar { id operator { __typename } } problems { code field } }
}"""
RETIRE = """mutation($input: RetireAvatarInput!) {
  retireAvatar(input: $input) { avatar { id status } problems { code field } }
}"""
REVOKE_LIKENESS = """mutation($input: RevokeLikenessConsentInput!) {
  revokeLikenessConsent(input: $input) { avatar { id status likeness { revokedAt } } problems { code field } }
}"""


async def test_drivers_transfer_and_retirement_over_http(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    operator = await room_operator(platform.id)
    avatar = await make_avatar(platform.id, operator.id)
    marketer = await make_performer(platform.id, role="MARKETER")

    data, errors = await call(client, token, DRIVER, input={"avatarId": avatar.id, "performerId": marketer.id})
    assert errors == [] and data["authorizeDriver"] == {
        "avatar": {"id": avatar.id, "drivers": [{"id": marketer.id}]},
        "problems": [],
    }
    data, _ = await call(client, token, DRIVER, input={"avatarId": avatar.id, "performerId": operator.id})
    assert data["authorizeDriver"]["problems"] == [{"code": "DRIVER_NOT_ELIGIBLE", "field": ["input", "performerId"]}]
    data, _ = await call(client, token, REVOKE_DRIVER, input={"avatarId": avatar.id, "performerId": marketer.id})
    assert data["revokeDriver"] == {"avatar": {"id": avatar.id, "drivers": []}, "problems": []}

    organization = await make_organization(platform.id)
    data, _ = await call(
        client, token, TRANSFER, input={"avatarId": avatar.id, "operatorId": organization.id, "reason": "sold"}
    )
    assert data["transferAvatar"] == {
        "avatar": {"id": avatar.id, "operator": {"__typename": "OperatorOrganization"}},
        "problems": [],
    }
    data, _ = await call(client, token, RETIRE, input={"avatarId": avatar.id, "reason": "done"})
    assert data["retireAvatar"] == {"avatar": {"id": avatar.id, "status": "RETIRED"}, "problems": []}
    data, _ = await call(client, token, RETIRE, input={"avatarId": avatar.id, "reason": "again"})
    assert data["retireAvatar"] == {
        "avatar": None,
        "problems": [{"code": "INVALID_TRANSITION", "field": ["input", "avatarId"]}],
    }

    other = await get_token(client, await make_platform())
    data, _ = await call(client, other, RETIRE, input={"avatarId": avatar.id, "reason": "not mine"})
    assert data["retireAvatar"] == {"avatar": None, "problems": [{"code": "NOT_FOUND", "field": ["input", "avatarId"]}]}
    data, _ = await call(client, other, DRIVER, input={"avatarId": avatar.id, "performerId": marketer.id})
    assert {tuple(p["field"]) for p in data["authorizeDriver"]["problems"]} == {
        ("input", "avatarId"),
        ("input", "performerId"),
    }


async def test_likeness_consent_over_http(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    operator = await room_operator(platform.id)
    consent = {
        "rightsHolder": {"type": "RESIDENT_ID_CARD", "number": likeness().rights_holder.number, "fullName": "周八"},
        "portrait": True,
        "voice": False,
        "signedAt": "2025-01-01T08:00:00+08:00",
        "validUntil": "2099-12-31",
        "evidence": None,
    }
    response = await upload_gql(
        client,
        f"""mutation($input: RegisterAvatarInput!) {{
          registerAvatar(input: $input) {{ avatar {{ {AVATAR_FIELDS} }} problems {{ code field }} }} }}""",
        {
            "input": {
                "name": "数字人",
                "operatorId": operator.id,
                "image": None,
                "kind": "REAL_PERSON_LIKENESS",
                "likeness": consent,
            }
        },
        {
            "input.image": (encode(photo(85)), "image/png"),
            "input.likeness.evidence": (b"%PDF-1.4 signed consent", "application/pdf"),
        },
        token=token,
    )
    payload = response.json()["data"]["registerAvatar"]
    assert payload["problems"] == []
    avatar = payload["avatar"]
    assert avatar["kind"] == "REAL_PERSON_LIKENESS"
    assert avatar["likeness"]["rightsHolderNameMasked"] == "周*" and avatar["likeness"]["validUntil"] == "2099-12-31"
    data, _ = await call(client, token, REVOKE_LIKENESS, input={"avatarId": avatar["id"], "reason": "withdrawn"})
    revoked = data["revokeLikenessConsent"]
    assert revoked["problems"] == [] and revoked["avatar"]["status"] == "SUSPENDED"
    assert revoked["avatar"]["likeness"]["revokedAt"] is not None

    missing = await register_avatar(client, token, operator.id, encode(photo(86)), kind="REAL_PERSON_LIKENESS")
    assert [(p["code"], p["field"]) for p in missing["problems"]] == [
        ("LIKENESS_CONSENT_REQUIRED", ["input", "likeness"])
    ]


async def test_enforcement_suspends_an_avatar(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    avatar = await make_avatar(platform.id, (await room_operator(platform.id)).id)
    await suspend(platform.id, avatar.id)
    data, _ = await call(client, token, "query($id: ID!) { avatar(id: $id) { status } }", id=avatar.id)
    assert data["avatar"] == {"status": "SUSPENDED"}


# ------------------------------------------------------------------------------------- similarity


async def test_similar_avatars_over_http(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    image = photo(87)
    avatar = await make_avatar(platform.id, (await room_operator(platform.id)).id, encode(image))
    await make_avatar(platform.id, (await room_operator(platform.id)).id, encode(photo(88)))

    async def similar(data: bytes, **variables: Any) -> dict[str, Any]:
        response = await upload_gql(
            client, SIMILAR, {"image": None, **variables}, {"image": (data, "image/jpeg")}, token=token
        )
        assert response.status_code == 200, response.text
        return response.json()["data"]["similarAvatars"]  # type: ignore[no-any-return]

    found = await similar(encode(image, "JPEG", quality=50))
    assert found["problems"] == [] and [m["avatar"]["id"] for m in found["matches"]] == [avatar.id]
    assert found["matches"][0]["distance"] <= 4
    assert (await similar(encode(image, "JPEG"), d=13))["problems"] == [
        {"code": "LIMIT_EXCEEDED", "field": ["maxDistance"]}
    ]
    assert (await similar(encode(image, "JPEG"), first=101))["problems"] == [
        {"code": "LIMIT_EXCEEDED", "field": ["first"]}
    ]
    assert (await similar(b"\xff\xd8\xff" + bytes(100)))["problems"] == [{"code": "INVALID_IMAGE", "field": ["image"]}]
    other = await get_token(client, await make_platform())
    response = await upload_gql(
        client, SIMILAR, {"image": None}, {"image": (encode(image, "JPEG"), "image/jpeg")}, token=other
    )
    assert response.json()["data"]["similarAvatars"] == {"matches": [], "problems": []}
