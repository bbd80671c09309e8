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
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Final

from tortoise.expressions import Q

from registry import clock, config, sql
from registry.avatars import phash as phashes
from registry.enforcement.locks import lock_identities
from registry.enforcement.models import BlacklistEntry, BlacklistKey, ReviewApproval, value_digest
from registry.enforcement.pinyin import readings
from registry.identities.models import IdentityKey
from registry.problems import DomainError, ProblemCode, problem


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

# Surnames whose everyday reading differs from the character's most common one, so a Han name and
# its pinyin spelling agree (单田芳 = Shan Tianfang), and so do simplified and traditional forms that
# pypinyin reads differently (尉迟 / 尉遲, 阚 / 闞). Compound surnames first.
_SURNAME_READINGS: dict[str, str] = {
    "尉迟": "yuchi", "尉遲": "yuchi", "万俟": "moqi", "萬俟": "moqi",
    "单": "shan", "單": "shan", "曾": "zeng", "朴": "piao", "解": "xie", "仇": "qiu", "区": "ou",
    "區": "ou", "查": "zha", "盖": "ge", "蓋": "ge", "缪": "miao", "繆": "miao", "翟": "zhai",
    "覃": "qin", "种": "chong", "员": "yun", "員": "yun", "阚": "kan", "闞": "kan", "秘": "bi",
}  # fmt: skip


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


def image_value(image_hash: int) -> str:
    """The `value` of an AVATAR_IMAGE key (an avatar's hash is not personal data; matching uses the bands)."""
    return f"phash:{phashes.hash_hex(image_hash)}"


def _surname_reading(text: str) -> tuple[str, str]:
    for length in (2, 1):
        reading = _SURNAME_READINGS.get(text[:length])
        if reading is not None and len(text) > length:
            return reading, text[length:]
    return "", text


def canonical_name(name: str) -> str:
    """Han characters as tone-less pinyin, other letters case-folded; spaces and punctuation dropped.

    So 张三, 張三 (traditional), "ZHANG San", "zhang·san" and full-width "Ｚｈａｎｇ　ｓａｎ" compare equal.
    """
    text = "".join(unicodedata.normalize("NFKC", name).split())
    surname, rest = _surname_reading(text)
    syllables = readings(rest)
    return "".join(ch for ch in (surname + "".join(syllables)).casefold() if ch.isalnum())


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


def strong_values(values: Iterable[tuple[str, str]]) -> list[str]:
    """The blind indexes of the strong keys among (kind, value) pairs: what identity locks are taken on."""
    return sorted({value for kind, value in values if kind in STRONG})


# Keys a subject already has stay as they are (re-verification stores the same keys again).
_STORE_KEYS_SQL: Final = """
INSERT INTO "identity_key" ("subject_id", "platform_id", "kind", "value", "created_at")
SELECT $1, $2, k.kind, k.value, $5 FROM unnest($3::text[], $4::text[]) AS k(kind, value)
ON CONFLICT ("subject_id", "kind", "value") DO NOTHING
"""


async def store_subject_keys(subject_id: str, platform_id: str, keys: SubjectKeys) -> None:
    """Remember a subject's keys so later blacklist entries find it without re-reading personal data.

    Call it inside the registering transaction. It first locks the strong keys (registry.enforcement.locks)
    and checks them against the blacklist once more: a ban written between the caller's screening and
    this point refuses the registration with BLACKLISTED (the transaction rolls back) instead of letting
    it slip through.
    """
    values = sorted(set(index_values(keys)))
    strong = strong_values(values)
    await lock_identities(strong)
    if await _listed_values(platform_id, strong, clock.now()):
        raise DomainError(problem(ProblemCode.BLACKLISTED, "This identity is on a blacklist.", "input"))
    if not values:
        return
    connection = IdentityKey._meta.db  # inside in_transaction() this is the transaction's connection
    if connection.capabilities.dialect == "postgres":
        kinds, indexes = [kind.value for kind, _ in values], [value for _, value in values]
        await connection.execute_query(_STORE_KEYS_SQL, [subject_id, platform_id, kinds, indexes, clock.now()])
        return
    existing = {
        (k.kind, k.value)
        for k in await IdentityKey.filter(subject_id=subject_id, value__in=[v for _, v in values]).only("kind", "value")
    }
    fresh = [
        IdentityKey(subject_id=subject_id, platform_id=platform_id, kind=kind.value, value=value)
        for kind, value in values
        if (kind.value, value) not in existing
    ]
    if fresh:
        await IdentityKey.bulk_create(fresh)


def visible(platform_id: str, now: datetime) -> Q:
    """Entries in force that a platform screens against: its own and every platform's JOINT ones."""
    active = Q(removed_at__isnull=True) & (Q(until__isnull=True) | Q(until__gt=now))
    return active & (Q(platform_id=platform_id) | Q(scope=Scope.JOINT.value))


async def _active_entries(platform_id: str, entry_ids: Iterable[str], now: datetime) -> dict[str, BlacklistEntry]:
    ids = list(set(entry_ids))
    if not ids:
        return {}
    query = BlacklistEntry.filter(visible(platform_id, now), id__in=ids)
    return {e.id: e for e in await query.only("id", "platform_id", "scope", "until")}


@dataclass(frozen=True, slots=True)
class Listing:
    """A stored key equal to a looked-up blind index, of an entry the platform sees in force."""

    entry_id: str
    kind: str
    value: str
    platform_id: str  # the listing platform
    scope: Scope
    until: datetime | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> Listing:
        """From a row of `listings_sql` (PostgreSQL's types)."""
        return cls(row["entry_id"], row["kind"], row["value"], row["platform_id"], Scope(row["scope"]), row["until"])


def listings_sql(select: str, digests: str, now: str, platform: str) -> str:
    """`SELECT {select}` over the keys (alias k) holding one of these digests whose entries (alias e) the
    platform sees in force (the rule of `visible`), for PostgreSQL. The digest index finds the few
    candidate keys (none, for most screenings), each joins its entry by primary key; a caller keeps a row
    only when its full value is one it looked for. The arguments are SQL expressions."""
    return f"""SELECT {select}
FROM "blacklist_key" k JOIN "blacklist_entry" e ON e."id" = k."entry_id"
WHERE k."digest" = ANY({digests}) AND e."removed_at" IS NULL AND (e."until" IS NULL OR e."until" > {now})
  AND (e."platform_id" = {platform} OR e."scope" = 'JOINT')"""  # noqa: S608 (expressions of our own statements)


LISTING_COLUMNS: Final = 'k."entry_id", k."kind", k."value", e."platform_id", e."scope", e."until"'
_LISTINGS_SQL: Final = listings_sql(LISTING_COLUMNS, "$1::bigint[]", "$2", "$3")


def digests_of(values: Iterable[str]) -> list[int]:
    return sorted({value_digest(value) for value in values})


async def _listings(platform_id: str, values: Iterable[str], now: datetime) -> list[Listing]:
    """The keys holding any of these blind indexes whose entries are visible to the platform, one round
    trip on PostgreSQL. Rows are found by digest and kept only when the full value is equal."""
    wanted = set(values)
    if not wanted:
        return []
    digests = digests_of(wanted)
    connection = BlacklistKey._meta.db  # inside in_transaction() this is the transaction's connection
    if connection.capabilities.dialect == "postgres":
        found = [Listing.of(row) for row in await sql.fetch(_LISTINGS_SQL, [digests, now, platform_id])]
    else:
        keys = await BlacklistKey.filter(digest__in=digests).only("entry_id", "kind", "value")
        entries = await _active_entries(platform_id, (k.entry_id for k in keys), now)
        found = [
            Listing(k.entry_id, k.kind, k.value, e.platform_id, Scope(e.scope), e.until)
            for k in keys
            if (e := entries.get(k.entry_id)) is not None
        ]
    return [listing for listing in found if listing.value in wanted]


async def _listed_values(platform_id: str, values: Sequence[str], now: datetime) -> set[str]:
    """Which of these blind indexes an entry visible to the platform holds."""
    return {listing.value for listing in await _listings(platform_id, values, now)}


async def _exact_matches(
    platform_id: str,
    keys: SubjectKeys,
    now: datetime,
    indexed: Sequence[tuple[MatchKey, str]] | None,
    listings: Sequence[Listing] | None,
) -> list[Match]:
    kind_of = {value: kind for kind, value in (index_values(keys) if indexed is None else indexed)}
    if listings is None:
        listings = await _listings(platform_id, kind_of, now)
    matches = {
        (row.entry_id, kind_of[row.value]): Match(
            key=kind_of[row.value],
            scope=row.scope,
            score=1.0,
            entry_id=row.entry_id,
            own=row.platform_id == platform_id,
        )
        for row in listings
        if row.value in kind_of and row.kind == kind_of[row.value].value
    }
    return list(matches.values())


# Each arm is an index-only scan of one (band, phash) index with bit_count filtering the index tuple,
# so only true matches leave the index (rows of other kinds have null bands and never match).
_NEAR_SQL: Final = """
SELECT "phash" FROM "blacklist_key" WHERE "band0" = ANY($1::int[]) AND bit_count(int8send("phash" # $5)) <= $6
UNION
SELECT "phash" FROM "blacklist_key" WHERE "band1" = ANY($2::int[]) AND bit_count(int8send("phash" # $5)) <= $6
UNION
SELECT "phash" FROM "blacklist_key" WHERE "band2" = ANY($3::int[]) AND bit_count(int8send("phash" # $5)) <= $6
UNION
SELECT "phash" FROM "blacklist_key" WHERE "band3" = ANY($4::int[]) AND bit_count(int8send("phash" # $5)) <= $6
"""
_NEAR_ROWS_SQL: Final = (
    'SELECT "entry_id", "phash" FROM "blacklist_key" WHERE "band0" = ANY($1::int[]) AND "phash" = ANY($2::bigint[])'
)


async def _near_keys(image_hash: int) -> list[tuple[str, int]]:
    """(entry id, stored hash) of every AVATAR_IMAGE key within AVATAR_DISTANCE (and, on SQLite, a few more)."""
    neighbourhoods = phashes.band_neighbourhoods(image_hash, AVATAR_DISTANCE)
    connection = BlacklistKey._meta.db
    if connection.capabilities.dialect != "postgres":
        near = Q()
        for band, values in enumerate(neighbourhoods):
            near |= Q(**{f"band{band}__in": values})
        return list(await BlacklistKey.filter(near).values_list("entry_id", "phash"))  # type: ignore[arg-type]
    params = [*neighbourhoods, phashes.to_signed64(image_hash), AVATAR_DISTANCE]
    found = [row["phash"] for row in await connection.execute_query_dict(_NEAR_SQL, params)]
    if not found:
        return []
    band0 = sorted({phashes.bands(phashes.to_unsigned64(h))[0] for h in found})
    rows = await connection.execute_query_dict(_NEAR_ROWS_SQL, [band0, found])
    return [(row["entry_id"], row["phash"]) for row in rows]


async def _image_matches(platform_id: str, hashes: Sequence[int], now: datetime) -> list[Match]:
    found: dict[str, Match] = {}
    for image_hash in hashes:
        near = [(entry_id, phashes.hamming(image_hash, stored)) for entry_id, stored in await _near_keys(image_hash)]
        near = [(entry_id, distance) for entry_id, distance in near if distance <= AVATAR_DISTANCE]
        entries = await _active_entries(platform_id, (entry_id for entry_id, _ in near), now)
        for entry_id, distance in near:
            entry = entries.get(entry_id)
            if entry is None:
                continue
            score = round(1 - distance / 64, 4)
            current = found.get(entry.id)
            if current is None or current.score < score:
                own = entry.platform_id == platform_id
                found[entry.id] = Match(MatchKey.AVATAR_IMAGE, Scope(entry.scope), score, entry.id, own)
    return list(found.values())


async def screen(
    platform_id: str,
    keys: SubjectKeys,
    *,
    subject_id: str | None = None,
    indexed: Sequence[tuple[MatchKey, str]] | None = None,
    listings: Sequence[Listing] | None = None,
) -> Screening:
    """Decide CLEAR, REVIEW or BLOCK for these keys as seen by `platform_id`.

    `indexed`: `index_values(keys)`, for a caller that computed them already (names cost a pinyin reading).
    `listings`: the rows of `listings_sql` for the digests of `indexed`, for a caller that read them in a
    statement of its own, just now.
    """
    now = clock.now()
    matches = await _exact_matches(platform_id, keys, now, indexed, listings)
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


@dataclass(frozen=True, slots=True)
class Standing:
    listed: set[str]  # subjects barred by an entry in force
    changes_at: datetime | None  # the earliest `until` of those entries: when time alone may lift a bar


# One statement: liveEligibility asks this on every cache miss. The subjects' strong keys (unique index
# on subject, kind, value) join equal blacklist keys and their entries in force visible to the platform
# (the rules of `visible` and `listings_sql`).
_STANDING_SQL: Final = """
SELECT i."subject_id", e."until"
FROM "identity_key" i
JOIN "blacklist_key" k ON k."value" = i."value"
JOIN "blacklist_entry" e ON e."id" = k."entry_id"
WHERE i."subject_id" = ANY($1) AND i."kind" = ANY($2)
  AND e."removed_at" IS NULL AND (e."until" IS NULL OR e."until" > $3)
  AND (e."platform_id" = $4 OR e."scope" = 'JOINT')
"""
_STRONG_KINDS: Final = sorted(k.value for k in STRONG)


# The same rule for one subject as a scalar subquery of a caller's statement: the earliest end of the
# entries barring it, FOREVER when one has no end, NULL when none does (liveEligibility folds its
# standing into its one statement). `subject`, `now` and `platform` are SQL expressions.
FOREVER: Final = datetime(9999, 12, 31, tzinfo=UTC)
_STRONG_LIST: Final = ", ".join(f"'{kind}'" for kind in _STRONG_KINDS)


# An adult's registration on PostgreSQL (registry.performers.registration_sql) takes the identity locks of
# its strong keys and re-screens them inside its one write statement. That statement's snapshot is taken
# before it waits for the locks, so it could miss a ban committed meanwhile; the queries of a VOLATILE
# function take snapshots of their own (READ COMMITTED), so this one, run after the locks are granted, sees
# every ban committed before. The rule is `_listings`'. Migration 0006 created it; test databases, built
# from the models, install ROUTINES (tests/registry/test_migrations.py compares the two).
LOCKED_LISTED: Final = "livegate_locked_listed"
ROUTINES: Final = (
    f"""CREATE OR REPLACE FUNCTION "{LOCKED_LISTED}"(
    p_locks bigint[], p_digests bigint[], p_values text[], p_now timestamptz, p_platform text
) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(k) FROM unnest(p_locks) AS k;  -- in the array's order
    RETURN EXISTS (
        SELECT 1 FROM "blacklist_key" lk JOIN "blacklist_entry" le ON le."id" = lk."entry_id"
        WHERE lk."digest" = ANY(p_digests) AND lk."value" = ANY(p_values)
          AND le."removed_at" IS NULL AND (le."until" IS NULL OR le."until" > p_now)
          AND (le."platform_id" = p_platform OR le."scope" = 'JOINT'));
END $$""",  # noqa: S608 (our own name; the function binds its arguments)
)


def locked_listed_sql(locks: str, digests: str, values: str, now: str, platform: str) -> str:
    """A boolean expression for a writer's statement: take the identity locks `locks` (ascending,
    registry.enforcement.locks.lock_ids) until the transaction ends, then tell whether an entry in force
    that the platform sees holds one of these blind indexes. The arguments are SQL expressions."""
    arguments = f"{locks}::bigint[], {digests}::bigint[], {values}::text[], {now}::timestamptz, {platform}::text"
    return f'"{LOCKED_LISTED}"({arguments})'


def listed_until_sql(subject: str, now: str, platform: str) -> str:
    return f"""(
SELECT MIN(COALESCE(le."until", '9999-12-31 00:00:00+00:00'))
FROM "identity_key" li
JOIN "blacklist_key" lk ON lk."value" = li."value"
JOIN "blacklist_entry" le ON le."id" = lk."entry_id"
WHERE li."subject_id" = {subject} AND li."kind" IN ({_STRONG_LIST})
  AND le."removed_at" IS NULL AND (le."until" IS NULL OR le."until" > {now})
  AND (le."platform_id" = {platform} OR le."scope" = 'JOINT'))"""  # noqa: S608 (expressions of our own statements)


async def blacklist_standing(platform_id: str, subject_ids: Sequence[str]) -> Standing:
    """Subjects whose strong keys match an active entry visible to the platform, evaluated now.

    This is what makes a new JOINT entry bar matching accounts on every platform at once, and its
    removal or expiry restore them, without a batch job. `changes_at` lets a cache of the answer end
    exactly when an entry expires.
    """
    if not subject_ids:
        return Standing(set(), None)
    rows = await sql.fetch(_STANDING_SQL, [list(subject_ids), _STRONG_KINDS, clock.now(), platform_id])
    until = BlacklistEntry._meta.fields_map["until"].to_python_value  # SQLite answers text
    ends = [until(row["until"]) for row in rows if row["until"] is not None]
    return Standing({row["subject_id"] for row in rows}, min(ends, default=None))


async def blacklisted_subjects(platform_id: str, subject_ids: Sequence[str]) -> set[str]:
    """The subjects of `blacklist_standing`."""
    return (await blacklist_standing(platform_id, subject_ids)).listed
