"""Enforcement measures, blacklist entries and the `screen` query (DESIGN §2, regulation G-23 to G-25).

Measures follow the action table in `status`: WARN and CANCEL_ACCOUNT are never temporary, a
CANCEL_ACCOUNT is final, and lifting is recorded on the measure, never a deletion. Account status
is derived from what is in force at read time, so a temporary measure ends by itself at `until`.

On a cancelled account every new measure is INVALID_TRANSITION, with one exception: a further
CANCEL_ACCOUNT with banReregistration while no ban of that account is in force, so a platform can
decide the re-registration ban after the cancellation (e.g. once an appeal failed).

Blacklist entries hold identity keys as blind indexes only, plus perceptual hashes for avatar
images. A ban that comes with CANCEL_ACCOUNT copies every key stored for the subject (all its
documents, past ones included, phone, devices, name and birth date, credit code; an avatar's image
hash). Writers take the identity locks of the strong keys (registry.enforcement.locks), so a
registration of the same identity committing meanwhile cannot slip through.

Another platform's measures and entries do not exist for the caller (NOT_FOUND); its JOINT entries
are matched by screening but shown without id or reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from tortoise.models import Model
from tortoise.transactions import in_transaction

from registry import audit, clock
from registry.actors import Actor
from registry.agencies.models import Agency
from registry.audit.services import Change
from registry.avatars import phash as phashes
from registry.avatars.images import normalize_image_async
from registry.avatars.models import Avatar
from registry.enforcement import screening
from registry.enforcement.locks import lock_identities
from registry.enforcement.models import BlacklistEntry, BlacklistKey, Enforcement
from registry.enforcement.screening import Decision, MatchKey, Scope, SubjectKeys
from registry.enforcement.status import LIFTABLE, TEMPORARY_ALLOWED, Action, in_force, is_in_force
from registry.identities.models import IdentityKey
from registry.ids import new_id, prefix_of
from registry.performers.models import OperatorOrganization, Performer
from registry.problems import DomainError, Problem, ProblemCode, prefixed, problem
from registry.uploads import Upload
from registry.validators.documents import DocumentType, identity_key_number
from registry.validators.phones import parse_phone
from registry.validators.text import clean_external_ref, clean_text
from registry.validators.uscc import validate_credit_code

SUBJECTS: dict[str, type[Model]] = {"per": Performer, "org": OperatorOrganization, "agy": Agency, "ava": Avatar}
REASON_MAX = 2000
PUBLIC_REASON_MAX = 500
DEVICE_MAX = 128  # as registration cleans device ids
NAME_MAX = 100
DEFAULT_PUBLIC_REASONS = {
    Action.WARN: "The platform has issued a warning to this account under its live-marketing rules.",
    Action.LIMIT_TRAFFIC: "The platform has limited this account's traffic under its live-marketing rules.",
    Action.LIMIT_FUNCTIONS: "The platform has limited this account's functions under its live-marketing rules.",
    Action.SUSPEND_RELEASE: "The platform has suspended live publishing for this account under its rules.",
    Action.CANCEL_ACCOUNT: "The platform has cancelled this account under its live-marketing rules.",
}
# Types whose 18-character key number carries the birth date at digits 7 to 14 (GB 11643 layout).
_BIRTH_IN_NUMBER = frozenset(
    {DocumentType.RESIDENT_ID_CARD, DocumentType.HMT_RESIDENCE_PERMIT, DocumentType.FOREIGN_PERMANENT_RESIDENT}
)
_KEY_FIELDS = ("document", "creditCode", "phone", "deviceId", "avatarImage", "avatarId")


# ----------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class ApplyInput:
    subject_id: str
    action: Action
    reason: str
    public_reason: str | None = None
    until: datetime | None = None
    ban_reregistration: bool = False
    blacklist_scope: Scope = Scope.PLATFORM
    blacklist_until: datetime | None = None
    external_ref: str | None = None


@dataclass(frozen=True, slots=True)
class DocumentKey:
    """Only what identifies a document (IdentityKeyInput): a regulator's notice may give no more."""

    type: DocumentType
    number: str
    full_name: str | None = None
    birth_date: date | None = None
    nationality: str | None = None


@dataclass(frozen=True, slots=True)
class KeysInput:
    document: DocumentKey | None = None
    credit_code: str | None = None
    phone: str | None = None
    device_id: str | None = None
    avatar_image: Upload | None = None

    @property
    def given(self) -> bool:
        keys = (self.document, self.credit_code, self.phone, self.device_id, self.avatar_image)
        return any(key is not None for key in keys)


@dataclass(frozen=True, slots=True)
class EntryInput:
    keys: KeysInput
    reason: str
    scope: Scope
    avatar_id: str | None = None
    until: datetime | None = None
    external_ref: str | None = None


# ---------------------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Applied:
    enforcement: Enforcement
    entry: BlacklistEntry | None


@dataclass(frozen=True, slots=True)
class ShownMatch:
    key: MatchKey
    scope: Scope
    score: float
    entry_id: str | None  # None for another platform's (JOINT) entry


@dataclass(frozen=True, slots=True)
class ScreenAnswer:
    decision: Decision | None  # None exactly when there are problems: never a false CLEAR
    matches: list[ShownMatch]
    problems: list[Problem]


# ------------------------------------------------------------------------------------------ reads


async def get_enforcement(actor: Actor, enforcement_id: str) -> Enforcement | None:
    if actor.session_id is not None:
        return None
    return await Enforcement.get_or_none(id=enforcement_id, platform_id=actor.platform_id)


async def get_entry(actor: Actor, entry_id: str) -> BlacklistEntry | None:
    """Only the listing platform reads an entry, JOINT ones included."""
    if actor.session_id is not None:
        return None
    return await BlacklistEntry.get_or_none(id=entry_id, platform_id=actor.platform_id)


async def entry_kinds(entry_ids: Sequence[str]) -> dict[str, list[MatchKey]]:
    """Which kinds of keys each entry holds, in MatchKey order (never the values)."""
    found: dict[str, set[str]] = {entry_id: set() for entry_id in entry_ids}
    if entry_ids:
        rows = await BlacklistKey.filter(entry_id__in=list(entry_ids)).distinct().values_list("entry_id", "kind")
        for entry_id, kind in rows:
            found[entry_id].add(kind)
    return {entry_id: [k for k in MatchKey if k.value in kinds] for entry_id, kinds in found.items()}


# ------------------------------------------------------------------------------ shared validation


def _text(raw: str, max_len: int, *path: str) -> tuple[str | None, list[Problem]]:
    cleaned, problems = clean_text(raw, max_len=max_len)
    return cleaned, prefixed(problems, *path)


def _future(moment: datetime | None, now: datetime, *path: str) -> list[Problem]:
    if moment is None or moment > now:
        return []
    return [problem(ProblemCode.INVALID_INPUT, "This moment has already passed; give a future one.", *path)]


def _not_found(what: str, *path: str) -> Problem:
    return problem(ProblemCode.NOT_FOUND, f"No such {what} on this platform.", *path)


def _transition(message: str) -> DomainError:
    return DomainError(problem(ProblemCode.INVALID_TRANSITION, message, "input"))


# ------------------------------------------------------------------------------------- key input


def _encoded_birth_date(document_type: DocumentType, key_number: str | None) -> date | None:
    if key_number is None or document_type not in _BIRTH_IN_NUMBER or len(key_number) != 18:
        return None
    return date(int(key_number[6:10]), int(key_number[10:12]), int(key_number[12:14]))


def _name_key(doc: DocumentKey, key_number: str | None) -> tuple[tuple[str, date] | None, list[Problem]]:
    """(full name, birth date) when a name is given; the birth date may come from the number."""
    problems: list[Problem] = []
    encoded = _encoded_birth_date(doc.type, key_number)
    if doc.birth_date is not None and doc.birth_date > clock.today_in_shanghai():
        problems.append(problem(ProblemCode.INVALID_INPUT, "The birth date lies in the future.", "birthDate"))
    elif doc.birth_date is not None and encoded is not None and doc.birth_date != encoded:
        message = "The birth date does not match the one in the document number; please check both."
        problems.append(problem(ProblemCode.INVALID_INPUT, message, "birthDate"))
    if doc.full_name is None:
        return None, problems
    name, name_problems = clean_text(doc.full_name, max_len=NAME_MAX)
    problems += prefixed(name_problems, "fullName")
    if name is not None and not any(ch.isalnum() for ch in name):  # what canonical_name keeps
        problems.append(problem(ProblemCode.INVALID_INPUT, "The full name has no letters to match on.", "fullName"))
    birth = doc.birth_date or encoded
    if birth is None and key_number is not None:
        message = "Give the birth date as well: a name is matched together with the birth date."
        problems.append(problem(ProblemCode.INVALID_INPUT, message, "birthDate"))
    if problems or name is None or birth is None:
        return None, problems
    return (name, birth), []


def _document_keys(doc: DocumentKey) -> tuple[list[str], list[tuple[str, date]], list[Problem]]:
    # identity_key_number turns a legacy 15-digit resident number into its 18-digit form.
    key_number, problems = identity_key_number(doc.type, doc.number, nationality=doc.nationality)
    name, name_problems = _name_key(doc, key_number)
    problems = prefixed(problems + name_problems, "input", "document")
    if problems or key_number is None:
        return [], [], problems
    return [screening.document_value(doc.type.value, key_number)], [name] if name else [], []


async def _image_hash(upload: Upload) -> tuple[int | None, list[Problem]]:
    try:
        image = await normalize_image_async(upload.data, upload.content_type)
    except DomainError as exc:
        return None, prefixed(exc.problems, "input", "avatarImage")
    return image.phash, []


async def parse_keys(data: KeysInput) -> tuple[SubjectKeys, list[Problem]]:
    """Validate and normalize every given key; every problem at once, with its field path."""
    documents: list[str] = []
    names: list[tuple[str, date]] = []
    problems: list[Problem] = []
    if data.document is not None:
        documents, names, problems = _document_keys(data.document)
    credit_codes, phones, devices, hashes = [], [], [], []
    if data.credit_code is not None:
        code, found = validate_credit_code(data.credit_code)
        problems += prefixed(found, "input", "creditCode")
        credit_codes = [code.code] if code else []
    if data.phone is not None:
        phone, found = parse_phone(data.phone)
        problems += prefixed(found, "input", "phone")
        phones = [phone] if phone else []
    if data.device_id is not None:
        device, found = _text(data.device_id, DEVICE_MAX, "input", "deviceId")
        problems += found
        devices = [device] if device else []
    if data.avatar_image is not None:
        image_hash, found = await _image_hash(data.avatar_image)
        problems += found
        hashes = [image_hash] if image_hash is not None else []
    keys = SubjectKeys(documents, credit_codes, phones, devices, names, hashes)
    return keys, problems


def _no_key(*fields: str) -> Problem:
    message = f"Give at least one identity key: {', '.join(fields)}."
    return problem(ProblemCode.INVALID_INPUT, message, "input")


# -------------------------------------------------------------------------------------- screening


async def screen(actor: Actor, data: KeysInput) -> ScreenAnswer:
    """The `screen` query: what registering these keys on the caller's platform would meet."""
    keys, problems = await parse_keys(data)
    if not data.given:
        problems.append(_no_key(*_KEY_FIELDS[:-1]))
    if problems:
        return ScreenAnswer(None, [], problems)
    result = await screening.screen(actor.platform_id, keys)
    shown = [ShownMatch(m.key, m.scope, m.score, m.entry_id if m.own else None) for m in result.matches]
    return ScreenAnswer(result.decision, shown, [])


# -------------------------------------------------------------------------------- blacklist entries


def _key_rows(keys: SubjectKeys) -> list[BlacklistKey]:
    rows = [BlacklistKey(kind=kind.value, value=value) for kind, value in sorted(set(screening.index_values(keys)))]
    return rows + [_image_row(image_hash) for image_hash in sorted(set(keys.avatar_hashes))]


def _image_row(image_hash: int) -> BlacklistKey:
    band0, band1, band2, band3 = phashes.bands(image_hash)
    return BlacklistKey(
        kind=MatchKey.AVATAR_IMAGE.value,
        value=screening.image_value(image_hash),
        phash=phashes.to_signed64(image_hash),
        band0=band0, band1=band1, band2=band2, band3=band3,
    )  # fmt: skip


async def _write_entry(
    actor: Actor, rows: list[BlacklistKey], *, scope: Scope, reason: str, until: datetime | None,
    external_ref: str | None, enforcement_id: str | None = None,
) -> BlacklistEntry:  # fmt: skip
    """Insert an entry and its keys; call inside a transaction (it takes the identity locks)."""
    await lock_identities(screening.strong_values((r.kind, r.value) for r in rows), excluding_bulk=True)
    entry = await BlacklistEntry.create(
        id=new_id("ble"),
        platform_id=actor.platform_id,
        scope=scope.value,
        reason=reason,
        until=until,
        external_ref=external_ref,
        enforcement_id=enforcement_id,
    )
    for row in rows:
        row.entry_id = entry.id
    await BlacklistKey.bulk_create(rows)
    return entry


def _entry_change(entry: BlacklistEntry, rows: list[BlacklistKey]) -> Change:
    data = {
        "scope": entry.scope,
        "until": entry.until,
        "externalRef": entry.external_ref,
        "enforcement": entry.enforcement_id,
        "keys": sorted({r.kind for r in rows}),
    }
    return Change("blacklist.added", entry.id, data)


async def _avatar_hash(actor: Actor, avatar_id: str) -> tuple[int | None, list[Problem]]:
    avatar = await Avatar.get_or_none(id=avatar_id, platform_id=actor.platform_id)
    if avatar is None:
        return None, [_not_found("avatar", "input", "avatarId")]
    return phashes.to_unsigned64(avatar.phash), []


async def add_blacklist_entry(actor: Actor, data: EntryInput) -> BlacklistEntry:
    now = clock.now()
    reason, problems = _text(data.reason, REASON_MAX, "input", "reason")
    problems += _future(data.until, now, "input", "until")
    external_ref, ref_problems = clean_external_ref(data.external_ref)
    problems += prefixed(ref_problems, "input", "externalRef")
    keys, key_problems = await parse_keys(data.keys)
    problems += key_problems
    if data.avatar_id is not None:
        image_hash, found = await _avatar_hash(actor, data.avatar_id)
        problems += found
        if image_hash is not None:
            keys = replace(keys, avatar_hashes=[*keys.avatar_hashes, image_hash])
    if not data.keys.given and data.avatar_id is None:
        problems.append(_no_key(*_KEY_FIELDS))
    if problems or reason is None:
        raise DomainError(problems)
    rows = _key_rows(keys)
    async with in_transaction():
        entry = await _write_entry(
            actor, rows, scope=data.scope, reason=reason, until=data.until, external_ref=external_ref
        )
        await audit.services.record(actor, _entry_change(entry, rows))
    return entry


async def remove_blacklist_entry(actor: Actor, entry_id: str, reason: str) -> BlacklistEntry:
    """Only the listing platform removes an entry (another platform's JOINT entry is NOT_FOUND)."""
    cleaned, problems = _text(reason, REASON_MAX, "input", "reason")
    if cleaned is None:
        raise DomainError(problems)
    async with in_transaction():
        entry = None
        if actor.session_id is None:
            entry = await BlacklistEntry.select_for_update().get_or_none(id=entry_id, platform_id=actor.platform_id)
        if entry is None:
            raise DomainError(_not_found("blacklist entry", "input", "entryId"))
        now = clock.now()
        if entry.removed_at is not None:
            raise _transition("This blacklist entry has already been removed.")
        if entry.until is not None and entry.until <= now:
            raise _transition("This blacklist entry has already expired.")
        entry.removed_at, entry.removed_reason = now, cleaned
        await entry.save(update_fields=["removed_at", "removed_reason"])
        await audit.services.record(actor, Change("blacklist.removed", entry.id, {"scope": entry.scope}))
    return entry


# ----------------------------------------------------------------------------------- enforcement


@dataclass(frozen=True, slots=True)
class _Checked:
    reason: str
    public_reason: str
    external_ref: str | None


def _check_apply(data: ApplyInput, now: datetime) -> tuple[_Checked | None, list[Problem]]:
    """Every input problem of applyEnforcement (the subject's state is checked under its lock)."""
    reason, problems = _text(data.reason, REASON_MAX, "input", "reason")
    public_reason = DEFAULT_PUBLIC_REASONS[data.action]
    if data.public_reason is not None:
        given, found = _text(data.public_reason, PUBLIC_REASON_MAX, "input", "publicReason")
        problems += found
        public_reason = given or public_reason
    external_ref, found = clean_external_ref(data.external_ref)
    problems += prefixed(found, "input", "externalRef")
    if data.until is not None and data.action not in TEMPORARY_ALLOWED:
        message = f"A {data.action.value} cannot be temporary; leave `until` out."
        problems.append(problem(ProblemCode.INVALID_INPUT, message, "input", "until"))
    problems += _future(data.until, now, "input", "until")
    problems += _ban_problems(data, now)
    if problems or reason is None:
        return None, problems
    return _Checked(reason, public_reason, external_ref), []


def _ban_problems(data: ApplyInput, now: datetime) -> list[Problem]:
    if data.ban_reregistration and data.action is not Action.CANCEL_ACCOUNT:
        message = "Only CANCEL_ACCOUNT can ban re-registration."
        return [problem(ProblemCode.INVALID_INPUT, message, "input", "banReregistration")]
    if data.ban_reregistration:
        return _future(data.blacklist_until, now, "input", "blacklistUntil")
    problems = []
    if data.blacklist_scope is not Scope.PLATFORM:
        message = "A blacklist scope needs banReregistration."
        problems.append(problem(ProblemCode.INVALID_INPUT, message, "input", "blacklistScope"))
    if data.blacklist_until is not None:
        message = "A blacklist expiry needs banReregistration."
        problems.append(problem(ProblemCode.INVALID_INPUT, message, "input", "blacklistUntil"))
    return problems


async def _subject_for_update(actor: Actor, subject_id: str) -> Model | None:
    model = SUBJECTS.get(prefix_of(subject_id))
    if model is None or actor.session_id is not None:
        return None
    return await model.select_for_update().get_or_none(id=subject_id, platform_id=actor.platform_id)


async def _check_subject_state(actor: Actor, subject: Model, measures: list[Enforcement], data: ApplyInput,
                               now: datetime) -> None:  # fmt: skip
    if isinstance(subject, Avatar) and subject.status == "RETIRED":
        raise _transition("The avatar is retired; no measure applies to it any more.")
    cancellations = [m.id for m in measures if m.action == Action.CANCEL_ACCOUNT.value]
    if not cancellations:
        return
    if data.action is not Action.CANCEL_ACCOUNT or not data.ban_reregistration:
        raise _transition("The account is cancelled; that is final, and no further measure applies.")
    banned = BlacklistEntry.filter(screening.visible(actor.platform_id, now), enforcement_id__in=cancellations)
    if await banned.exists():
        raise _transition("The account is cancelled and its re-registration is already banned.")


async def _subject_key_rows(subject: Model) -> list[BlacklistKey]:
    """Every key stored for the subject (each index under every key id it was written with)."""
    stored = await IdentityKey.filter(subject_id=subject.pk).exclude(kind=MatchKey.AVATAR_IMAGE.value)
    rows = [BlacklistKey(kind=kind, value=value) for kind, value in sorted({(k.kind, k.value) for k in stored})]
    if isinstance(subject, Avatar):
        rows.append(_image_row(phashes.to_unsigned64(subject.phash)))
    return rows


async def apply_enforcement(actor: Actor, data: ApplyInput) -> Applied:
    now = clock.now()
    checked, problems = _check_apply(data, now)
    async with in_transaction():
        subject = await _subject_for_update(actor, data.subject_id)
        if subject is None:
            what = "performer, operator organization, agency or avatar"
            problems = [_not_found(what, "input", "subjectId"), *problems]
        if problems or checked is None or subject is None:
            raise DomainError(problems)
        measures = (await in_force([subject.pk], now=now))[subject.pk]
        await _check_subject_state(actor, subject, measures, data, now)
        measure = await Enforcement.create(
            id=new_id("enf"),
            platform_id=actor.platform_id,
            subject_id=subject.pk,
            action=data.action.value,
            reason=checked.reason,
            public_reason=checked.public_reason,
            since=now,
            until=data.until,
            external_ref=checked.external_ref,
            token_id=actor.token_id,
        )
        entry, changes = None, [Change("enforcement.applied", subject.pk, _measure_data(measure))]
        if data.ban_reregistration:
            entry, change = await _ban(actor, subject, measure, data)
            changes.append(change)
        await audit.services.record_many(actor, changes)
    return Applied(measure, entry)


def _measure_data(measure: Enforcement) -> dict[str, object]:
    return {
        "enforcement": measure.id,
        "action": measure.action,
        "until": measure.until,
        "externalRef": measure.external_ref,
    }


async def _ban(actor: Actor, subject: Model, measure: Enforcement, data: ApplyInput) -> tuple[BlacklistEntry, Change]:
    rows = await _subject_key_rows(subject)
    if not rows:
        raise DomainError(
            problem(ProblemCode.INVALID_INPUT, "No identity keys are stored for this subject.", "input", "subjectId")
        )
    entry = await _write_entry(
        actor, rows, scope=data.blacklist_scope, reason=measure.reason, until=data.blacklist_until,
        external_ref=measure.external_ref, enforcement_id=measure.id,
    )  # fmt: skip
    return entry, _entry_change(entry, rows)


async def lift_enforcement(actor: Actor, enforcement_id: str, reason: str) -> Enforcement:
    cleaned, problems = _text(reason, REASON_MAX, "input", "reason")
    if cleaned is None:
        raise DomainError(problems)
    async with in_transaction():
        measure = None
        if actor.session_id is None:
            query = Enforcement.select_for_update()
            measure = await query.get_or_none(id=enforcement_id, platform_id=actor.platform_id)
        if measure is None:
            raise DomainError(_not_found("enforcement measure", "input", "enforcementId"))
        now = clock.now()
        if Action(measure.action) not in LIFTABLE:
            raise _transition("A cancellation is final; its blacklist entry, if any, is removed separately.")
        if measure.lifted_at is not None:
            raise _transition("This measure has already been lifted.")
        if not is_in_force(measure, now):
            raise _transition("This measure already ended by itself at its `until`.")
        measure.lifted_at, measure.lift_reason = now, cleaned
        await measure.save(update_fields=["lifted_at", "lift_reason"])
        data = {"enforcement": measure.id, "action": measure.action}
        await audit.services.record(actor, Change("enforcement.lifted", measure.subject_id, data))
    return measure
