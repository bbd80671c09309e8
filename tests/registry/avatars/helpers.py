"""Builders for avatar tests: photo-like images, near-copies, uploads, operators and registrations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from io import BytesIO

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from registry.actors import Actor, ActorKind
from registry.avatars import phash as phashes
from registry.avatars import services as avatars
from registry.avatars.images import normalize_image
from registry.avatars.models import Avatar
from registry.avatars.services import LikenessInput, Outcome, RegisterInput
from registry.enforcement.models import BlacklistEntry, BlacklistKey
from registry.enforcement.screening import MatchKey, Scope, image_value
from registry.ids import new_id
from registry.performers.models import Performer
from registry.uploads import Upload
from registry.validators.documents import DocumentInput
from tests.factories import document, make_performer, platform_actor, years_ago


def photo(seed: int, size: int = 256) -> Image.Image:
    """A deterministic photo-like picture: a smooth random background, 15-40 random shapes, blur, noise.

    Everything (background, shape count, kind, colour, blur) varies with the seed, so unrelated seeds
    give unrelated perceptual hashes (measured: the closest of 300 images are 14 bits apart, mean 31).
    """
    rng = np.random.default_rng(seed)
    corners = rng.integers(0, 256, (3, 3, 3), dtype=np.uint8)
    im = Image.fromarray(corners, "RGB").resize((size, size), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(15, 40))):
        x0, y0 = (int(v) for v in rng.integers(-size // 8, size, 2))
        w, h = (int(v) for v in rng.integers(size // 12, size // 2, 2))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        shape = int(rng.integers(3))
        if shape == 0:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
        elif shape == 1:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
        else:
            draw.polygon([tuple(int(v) for v in rng.integers(0, size, 2)) for _ in range(3)], fill=colour)
    im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2.5))))
    noisy = np.asarray(im).astype(np.int16) + rng.normal(0, 4, (size, size, 3)).astype(np.int16)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def with_alpha(im: Image.Image) -> Image.Image:
    """A cut-out: an opaque disc on a fully transparent background."""
    mask = Image.new("L", im.size, 0)
    w, h = im.size
    ImageDraw.Draw(mask).ellipse((w // 8, h // 8, w * 7 // 8, h * 7 // 8), fill=255)
    out = im.copy()
    out.putalpha(mask)
    return out


def encode(im: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    out = BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def near_copies(im: Image.Image) -> dict[str, bytes]:
    """What a copier does to someone else's avatar: resize, recompress, crop a little, change brightness."""
    w, h = im.size
    return {
        "resized": encode(im.resize((w * 3 // 4, h * 3 // 4), Image.Resampling.LANCZOS)),
        "upscaled": encode(im.resize((w * 2, h * 2), Image.Resampling.BICUBIC), "JPEG", quality=85),
        "recompressed": encode(im, "JPEG", quality=35),
        "cropped": encode(im.crop((w // 50, h // 50, w - w // 50, h - h // 50))),
        "brighter": encode(ImageEnhance.Brightness(im).enhance(1.2)),
        "darker": encode(ImageEnhance.Brightness(im).enhance(0.85), "WEBP", quality=80),
    }


@cache
def unrelated_images(count: int, first_seed: int = 10_000) -> tuple[tuple[bytes, int], ...]:
    """`count` unrelated PNGs (160 px, to keep tests fast) with their normalized perceptual hashes."""
    images = []
    for seed in range(first_seed, first_seed + count):
        data = encode(photo(seed, 160))
        images.append((data, normalize_image(data, "image/png").phash))
    return tuple(images)


def mime_of(data: bytes) -> str:
    """The type a browser would declare for these bytes (PNG, JPEG or WebP; anything else as a PNG)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/png"


def upload(data: bytes, content_type: str | None = None) -> Upload:
    return Upload(data=data, content_type=content_type or mime_of(data), filename="avatar")


def client_actor(platform_id: str, session_id: str) -> Actor:
    return Actor(ActorKind.ONBOARDING_CLIENT, platform_id, token_id="client-token", session_id=session_id)


async def room_operator(platform_id: str, *, number: str | None = None, name: str = "孙七") -> Performer:
    return await make_performer(platform_id, role="ROOM_OPERATOR", name=name, number=number)


def likeness(
    holder: DocumentInput | None = None, *, portrait: bool = True, voice: bool = False, **changes: object
) -> LikenessInput:
    values: dict[str, object] = {
        "rights_holder": holder or document(years_ago(35), name="周八"),
        "portrait": portrait,
        "voice": voice,
        "signed_at": datetime.now(UTC) - timedelta(days=2),
        **changes,
    }
    return LikenessInput(**values)  # type: ignore[arg-type]


def registration(operator_id: str, data: bytes | None = None, **changes: object) -> RegisterInput:
    values: dict[str, object] = {
        "name": "小星",
        "operator_id": operator_id,
        "image": upload(data if data is not None else encode(photo(1))),
        **changes,
    }
    return RegisterInput(**values)  # type: ignore[arg-type]


async def register(platform_id: str, operator_id: str, data: bytes | None = None, **changes: object) -> Outcome:
    return await avatars.register_avatar(platform_actor(platform_id), registration(operator_id, data, **changes))


async def make_avatar(platform_id: str, operator_id: str, data: bytes | None = None, **changes: object) -> Avatar:
    outcome = await register(platform_id, operator_id, data, **changes)
    assert outcome.avatar is not None, outcome.problems
    return outcome.avatar


def codes(outcome: Outcome) -> list[tuple[str, tuple[str, ...] | None]]:
    return [(p.code.value, p.field) for p in outcome.problems]


async def blacklist_image(platform_id: str, image_hash: int, *, scope: Scope = Scope.PLATFORM) -> BlacklistEntry:
    """An AVATAR_IMAGE blacklist entry for this unsigned hash, written as the blacklist domain stores it."""
    entry = await BlacklistEntry.create(
        id=new_id("bl"), platform_id=platform_id, scope=scope.value, reason="banned character"
    )
    band0, band1, band2, band3 = phashes.bands(image_hash)
    await BlacklistKey.create(
        entry_id=entry.id,
        kind=MatchKey.AVATAR_IMAGE.value,
        value=image_value(image_hash),
        phash=phashes.to_signed64(image_hash),
        band0=band0,
        band1=band1,
        band2=band2,
        band3=band3,
    )
    return entry
