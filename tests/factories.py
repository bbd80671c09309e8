"""Builders for test data: valid identity numbers, credit codes, images, and registered records."""

from __future__ import annotations

import io
import itertools
import random
from datetime import UTC, date, datetime, timedelta

from PIL import Image, ImageDraw

from registry import clock
from registry.actors import Actor, ActorKind
from registry.organizations import CompanyInput
from registry.performers import organizations
from registry.performers import services as performers
from registry.performers.models import OperatorOrganization, Performer
from registry.performers.services import ConsentInput, RegisterInput
from registry.validators.documents import DocumentInput, DocumentType, mod11_2_check
from registry.validators.uscc import ALPHABET, org_code_check_char, uscc_check_char

_sequence = itertools.count(1)


def resident_id(birth: date, *, region: str = "110105", seq: int | None = None) -> str:
    """A valid 18-character resident ID number (unique per call unless `seq` is given)."""
    body = f"{region}{birth:%Y%m%d}{(seq if seq is not None else next(_sequence) % 1000):03d}"
    return body + mod11_2_check(body)


def credit_code(seed: int | None = None) -> str:
    """A valid USCC of an enterprise (authority 9, type 1), with a valid inner organization code."""
    rng = random.Random(seed if seed is not None else next(_sequence) * 7919)
    body8 = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    first17 = "91" + "440300" + body8 + org_code_check_char(body8)
    assert all(c in ALPHABET for c in first17)
    return first17 + uscc_check_char(first17)


def years_ago(years: int, days: int = 0) -> date:
    today = clock.today_in_shanghai()
    try:
        anniversary = today.replace(year=today.year - years)
    except ValueError:  # Feb 29
        anniversary = today.replace(year=today.year - years, day=28)
    return anniversary - timedelta(days=days)


def document(birth: date | None = None, *, name: str = "张三", number: str | None = None) -> DocumentInput:
    birth = birth or years_ago(30)
    return DocumentInput(type=DocumentType.RESIDENT_ID_CARD, number=number or resident_id(birth), full_name=name)


def platform_actor(platform_id: str) -> Actor:
    return Actor(ActorKind.PLATFORM_TOKEN, platform_id, token_id="test-token")


async def make_performer(
    platform_id: str,
    *,
    role: str = "MARKETER",
    birth: date | None = None,
    name: str = "张三",
    external_ref: str | None = None,
    trained: bool = True,
    number: str | None = None,
) -> Performer:
    """A registered (VERIFIED unless screening says otherwise) performer; minors get a guardian consent."""
    birth = birth or years_ago(30)
    consent = None
    if clock.today_in_shanghai() < birth.replace(year=birth.year + 18) + timedelta(days=1):
        consent = ConsentInput(
            guardian=document(years_ago(45), name="李四"),
            relationship="PARENT",
            phone="13900139000",
            signed_at=datetime.now(UTC) - timedelta(days=1),
        )
    data = RegisterInput(
        role=role,
        document=document(birth, name=name, number=number),
        phone="13800138000",
        external_ref=external_ref,
        guardian_consent=consent,
    )
    outcome = await performers.register_performer(platform_actor(platform_id), data)
    assert outcome.performer is not None, outcome.problems
    if trained:
        await performers.record_training(
            platform_actor(platform_id),
            outcome.performer.id,
            datetime.now(UTC) - timedelta(days=1),
            "Live marketing law",
        )
        outcome = performers.Outcome(await Performer.get(id=outcome.performer.id), [])
    assert outcome.performer is not None
    return outcome.performer


async def make_organization(
    platform_id: str, *, code: str | None = None, external_ref: str | None = None
) -> OperatorOrganization:
    data = CompanyInput(
        name="深圳市示例直播科技有限公司",
        credit_code=code or credit_code(),
        address="深圳市南山区科技园示例路1号",
        contact_phone="0755-12345678",
        representative=document(years_ago(40), name="王五"),
        external_ref=external_ref,
    )
    outcome = await organizations.register_organization(platform_actor(platform_id), data)
    assert outcome.organization is not None, outcome.problems
    return outcome.organization


def image_bytes(seed: int = 1, *, size: int = 256, fmt: str = "PNG", alpha: bool = False) -> bytes:
    """A deterministic, photo-like test image (different seeds give perceptually different images)."""
    rng = random.Random(seed)
    mode = "RGBA" if alpha else "RGB"
    image = Image.new(mode, (size, size), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rng.randrange(size), rng.randrange(size)
        x1, y1 = x0 + rng.randrange(20, size // 2), y0 + rng.randrange(20, size // 2)
        color = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x0, y0, x1, y1), fill=color if not alpha else (*color, 255))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()
