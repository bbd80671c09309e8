"""Screening identity keys against the blacklist, used by every registration path and by `screen`.

Keys are compared only as keyed blind indexes. Every index is written under every key of the index
keyring (subjects and entries alike), so matches survive a key rotation as long as the two keyrings
overlap. DOCUMENT and CREDIT_CODE are strong identifiers: an exact match BLOCKs. PHONE, DEVICE,
NAME_AND_BIRTHDATE and AVATAR_IMAGE are weaker: a match sends the case to REVIEW, unless a compliance
officer already approved that match for that subject.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from pypinyin import Style, lazy_pinyin
from tortoise.expressions import Q

from registry import clock, config
from registry.avatars import phash as phashes
from registry.enforcement.models import BlacklistEntry, BlacklistKey, ReviewApproval
from registry.identities.models import IdentityKey


class MatchKey(StrEnum):
    DOCUMENT = "DOCUMENT"
    CREDIT_CODE = "CREDIT_CODE"
    PHONE = "PHONE"
    DEVICE = "DEVICE"
    NAME_AND_BIRTHDATE = "NAME_AND_BIRTHDATE"
    AVATAR_IMAGE = "AVATAR_IMAGE"


class Decision(StrEnum):
    CLEAR = "CLEAR"
    REVIEW = "REVIEW"
    BLOCK = "BLOCK"


class Scope(StrEnum):
    PLATFORM = "PLATFORM"
    JOINT = "JOINT"


STRONG = frozenset({MatchKey.DOCUMENT, MatchKey.CREDIT_CODE})
AVATAR_DISTANCE = 10  # the avatar near-duplicate threshold (DESIGN §2, Avatars)


@dataclass(frozen=True, slots=True)
class SubjectKeys:
    """Raw identity keys of one subject, already validated and normalized by the caller."""

    documents: Sequence[str] = ()  # document_value(type, key_number)
    credit_codes: Sequence[str] = ()
    phones: Sequence[str] = ()  # E.164
    devices: Sequence[str] = ()
    names: Sequence[tuple[str, date]] = ()  # (full name, birth date)
    avatar_hashes: Sequence[int] = ()  # unsigned 64-bit perceptual hashes


@dataclass(frozen=True, slots=True)
class Match:
    key: MatchKey
    scope: Scope
    score: float
    entry_id: str  # always known here; callers hide it for other platforms' entries
    own: bool  # listed by the screening platform


@dataclass(frozen=True, slots=True)
class Screening:
    decision: Decision
    matches: list[Match] = field(default_factory=list)

    @property
    def review_matches(self) -> list[Match]:
        return [m for m in self.matches if m.key not in STRONG]


def document_value(document_type: str, key_number: str) -> str:
    return f"{document_type}:{key_number}"


def canonical_name(name: str) -> str:
    """Han characters as tone-less pinyin, other letters case-folded; spaces and punctuation dropped.

    So 张三, 張三 (traditional, NFKC leaves it but pinyin agrees), "ZHANG San" and "zhang·san" compare equal.
    """
    text = unicodedata.normalize("NFKC", name)
    syllables = lazy_pinyin(text, style=Style.NORMAL, errors=lambda chars: list(chars))
    return "".join(ch for ch in "".join(syllables).casefold() if ch.isalnum())


def name_value(name: str, birth_date: date) -> str:
    return f"{canonical_name(name)}|{birth_date.isoformat()}"


def raw_values(keys: SubjectKeys) -> list[tuple[MatchKey, str]]:
    """(kind, normalized raw value) for every exact-match key; avatar hashes are matched apart."""
    pairs = [(MatchKey.DOCUMENT, v) for v in keys.documents]
    pairs += [(MatchKey.CREDIT_CODE, v) for v in keys.credit_codes]
    pairs += [(MatchKey.PHONE, v) for v in keys.phones]
    pairs += [(MatchKey.DEVICE, v.strip()) for v in keys.devices]
    pairs += [(MatchKey.NAME_AND_BIRTHDATE, name_value(n, d)) for n, d in keys.names]
    return pairs


def index_values(keys: SubjectKeys) -> list[tuple[MatchKey, str]]:
    """Every (kind, blind index) of the keys under every index key, for storing or matching."""
    indexer = config.current().indexer
    return [(kind, value) for kind, raw in raw_values(keys) for value in indexer.candidates(kind.value, raw)]


async def store_subject_keys(subject_id: str, platform_id: str, keys: SubjectKeys) -> None:
    """Remember a subject's keys so later blacklist entries find it without re-reading personal data."""
    rows = [
        IdentityKey(subject_id=subject_id, platform_id=platform_id, kind=kind.value, value=value)
        for kind, value in set(index_values(keys))
    ]
    existing = {
        (k.kind, k.value)
        for k in await IdentityKey.filter(subject_id=subject_id, value__in=[r.value for r in rows]).only(
            "kind", "value"
        )
    }
    fresh = [r for r in rows if (r.kind, r.value) not in existing]
    if fresh:
        await IdentityKey.bulk_create(fresh)


def _visible(platform_id: str, now: datetime) -> Q:
    active = Q(removed_at__isnull=True) & (Q(until__isnull=True) | Q(until__gt=now))
    return active & (Q(platform_id=platform_id) | Q(scope=Scope.JOINT.value))


async def _active_entries(platform_id: str, entry_ids: Iterable[str], now: datetime) -> dict[str, BlacklistEntry]:
    ids = list(set(entry_ids))
    if not ids:
        return {}
    return {e.id: e for e in await BlacklistEntry.filter(_visible(platform_id, now), id__in=ids)}


async def _exact_matches(platform_id: str, keys: SubjectKeys, now: datetime) -> list[Match]:
    values = index_values(keys)
    kind_of = {value: kind for kind, value in values}
    if not kind_of:
        return []
    rows = await BlacklistKey.filter(value__in=list(kind_of)).only("entry_id", "value", "kind")
    entries = await _active_entries(platform_id, (r.entry_id for r in rows), now)
    matches = {
        (r.entry_id, kind_of[r.value]): Match(
            key=kind_of[r.value],
            scope=Scope(entries[r.entry_id].scope),
            score=1.0,
            entry_id=r.entry_id,
            own=entries[r.entry_id].platform_id == platform_id,
        )
        for r in rows
        if r.entry_id in entries and r.kind == kind_of[r.value].value
    }
    return list(matches.values())


async def _image_matches(platform_id: str, hashes: Sequence[int], now: datetime) -> list[Match]:
    found: dict[str, Match] = {}
    for image_hash in hashes:
        neighbourhoods = phashes.band_neighbourhoods(image_hash, AVATAR_DISTANCE)
        near = Q()
        for band, values in enumerate(neighbourhoods):
            near |= Q(**{f"band{band}__in": values})
        rows = await BlacklistKey.filter(near, kind=MatchKey.AVATAR_IMAGE.value).only("entry_id", "phash")
        entries = await _active_entries(platform_id, (r.entry_id for r in rows), now)
        for row in rows:
            entry = entries.get(row.entry_id)
            if entry is None or row.phash is None:
                continue
            distance = phashes.hamming(image_hash, row.phash)
            if distance <= AVATAR_DISTANCE:
                score = round(1 - distance / 64, 4)
                current = found.get(entry.id)
                if current is None or current.score < score:
                    found[entry.id] = Match(
                        MatchKey.AVATAR_IMAGE, Scope(entry.scope), score, entry.id, entry.platform_id == platform_id
                    )
    return list(found.values())


async def screen(platform_id: str, keys: SubjectKeys, *, subject_id: str | None = None) -> Screening:
    """Decide CLEAR, REVIEW or BLOCK for these keys as seen by `platform_id`."""
    now = clock.now()
    matches = await _exact_matches(platform_id, keys, now)
    if keys.avatar_hashes:
        matches += await _image_matches(platform_id, keys.avatar_hashes, now)
    if subject_id is not None:
        matches = await _without_approved(subject_id, matches)
    if any(m.key in STRONG for m in matches):
        decision = Decision.BLOCK
    elif matches:
        decision = Decision.REVIEW
    else:
        decision = Decision.CLEAR
    return Screening(decision, sorted(matches, key=lambda m: (m.key not in STRONG, -m.score, m.entry_id)))


async def _without_approved(subject_id: str, matches: list[Match]) -> list[Match]:
    weak = [m for m in matches if m.key not in STRONG]
    if not weak:
        return matches
    approved = {
        (a.entry_id, a.kind)
        for a in await ReviewApproval.filter(subject_id=subject_id, entry_id__in=[m.entry_id for m in weak])
    }
    return [m for m in matches if m.key in STRONG or (m.entry_id, m.key.value) not in approved]


async def blacklisted_subjects(platform_id: str, subject_ids: Sequence[str]) -> set[str]:
    """Subjects whose strong keys match an active entry visible to the platform, evaluated now.

    This is what makes a new JOINT entry bar matching accounts on every platform at once, and its
    removal or expiry restore them, without a batch job.
    """
    if not subject_ids:
        return set()
    keys = await IdentityKey.filter(subject_id__in=list(subject_ids), kind__in=[k.value for k in STRONG]).only(
        "subject_id", "value"
    )
    if not keys:
        return set()
    rows = await BlacklistKey.filter(value__in=list({k.value for k in keys})).only("entry_id", "value")
    entries = await _active_entries(platform_id, (r.entry_id for r in rows), clock.now())
    listed = {r.value for r in rows if r.entry_id in entries}
    return {k.subject_id for k in keys if k.value in listed}
