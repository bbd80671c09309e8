"""May this performer (and avatar) go live now? The dynamic verification asked before each session.

Everything is evaluated at the moment of the call: the age on today's Shanghai calendar and the
platform's minimum, consent, training within 365 days, the measures in force, the blacklist as it
is now (a new JOINT entry bars matching accounts at once), the agency agreement, and the avatar's
status, drivers and responsible operator. Every failing reason is listed. WARN and LIMIT_TRAFFIC
never block.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from registry import clock, config
from registry.actors import Actor
from registry.agencies.models import Agency, Agreement
from registry.avatars.models import Avatar, AvatarDriver, Likeness
from registry.enforcement.models import Enforcement
from registry.enforcement.screening import blacklist_standing
from registry.enforcement.status import Action, in_force
from registry.performers import eligibility_reads as reads
from registry.performers import services as performers
from registry.performers.eligibility_cache import CACHE, MAX_AGE
from registry.performers.models import OperatorOrganization, Performer
from registry.verification import Status, effective_status

TRAINING_VALID = timedelta(days=365)


class Reason(StrEnum):
    NOT_VERIFIED = "NOT_VERIFIED"
    VERIFICATION_EXPIRED = "VERIFICATION_EXPIRED"
    UNDER_MINIMUM_AGE = "UNDER_MINIMUM_AGE"
    GUARDIAN_CONSENT_MISSING = "GUARDIAN_CONSENT_MISSING"
    TRAINING_MISSING = "TRAINING_MISSING"
    AGENCY_AGREEMENT_MISSING = "AGENCY_AGREEMENT_MISSING"
    AGENCY_NOT_ELIGIBLE = "AGENCY_NOT_ELIGIBLE"
    FUNCTION_LIMITED = "FUNCTION_LIMITED"
    ACCOUNT_SUSPENDED = "ACCOUNT_SUSPENDED"
    ACCOUNT_CANCELLED = "ACCOUNT_CANCELLED"
    BLACKLISTED = "BLACKLISTED"
    AVATAR_NOT_FOUND = "AVATAR_NOT_FOUND"
    AVATAR_NOT_ACTIVE = "AVATAR_NOT_ACTIVE"
    AVATAR_DRIVER_NOT_AUTHORIZED = "AVATAR_DRIVER_NOT_AUTHORIZED"
    AVATAR_OPERATOR_NOT_ELIGIBLE = "AVATAR_OPERATOR_NOT_ELIGIBLE"


_MEASURE_REASONS = {
    Action.LIMIT_FUNCTIONS: Reason.FUNCTION_LIMITED,
    Action.SUSPEND_RELEASE: Reason.ACCOUNT_SUSPENDED,
    Action.CANCEL_ACCOUNT: Reason.ACCOUNT_CANCELLED,
}
# Declaration order of Reason is the order of the answer.
_ORDER = {reason: index for index, reason in enumerate(Reason)}


@dataclass(frozen=True, slots=True)
class Eligibility:
    allowed: bool
    reasons: list[Reason]
    checked_at: datetime


def measure_reasons(measures: list[Enforcement]) -> set[Reason]:
    return {_MEASURE_REASONS[Action(m.action)] for m in measures if Action(m.action) in _MEASURE_REASONS}


def complete(agreement: Agreement, party_role: str, today: date) -> bool:
    """The written agreement covers the duties of the party's role and is neither expired nor ended."""
    if agreement.terminated_at is not None or agreement.superseded_at is not None:
        return False
    if agreement.valid_until is not None and agreement.valid_until < today:
        return False
    duties = agreement.information_security and agreement.commodity_quality_audit and agreement.consumer_protection
    if party_role == "MARKETER":
        return duties
    return duties and agreement.marketer_management and agreement.content_management


def in_good_standing(status: Status, measures: list[Enforcement], blacklisted: bool) -> bool:
    return status is Status.VERIFIED and not measure_reasons(measures) and not blacklisted


async def _agency_reasons(performer: Performer, measures: dict[str, list[Enforcement]], listed: set[str],
                          today: date) -> set[Reason]:  # fmt: skip
    if performer.agency_id is None:
        return set()
    reasons = set()
    agency = await Agency.get_or_none(id=performer.agency_id, platform_id=performer.platform_id)
    if agency is None or not in_good_standing(
        effective_status(agency.verification_status, reverify_by=agency.reverify_by),
        measures.get(agency.id, []),
        agency.id in listed,
    ):
        reasons.add(Reason.AGENCY_NOT_ELIGIBLE)
    agreements = await Agreement.filter(agency_id=performer.agency_id, party_id=performer.id)
    if not any(complete(a, performer.role, today) for a in agreements):
        reasons.add(Reason.AGENCY_AGREEMENT_MISSING)
    return reasons


async def _operator_standing(avatar: Avatar, measures: dict[str, list[Enforcement]], listed: set[str]) -> bool:
    operator_id = avatar.operator_id
    if operator_id.startswith("org_"):
        organization = await OperatorOrganization.get_or_none(id=operator_id, platform_id=avatar.platform_id)
        if organization is None:
            return False
        status = effective_status(organization.verification_status, reverify_by=organization.reverify_by)
    else:
        operator = await Performer.get_or_none(id=operator_id, platform_id=avatar.platform_id)
        if operator is None:
            return False
        status = performers.status_of(operator)
    return in_good_standing(status, measures.get(operator_id, []), operator_id in listed)


async def _avatar_reasons(performer: Performer, avatar: Avatar | None, measures: dict[str, list[Enforcement]],
                          listed: set[str], today: date) -> set[Reason]:  # fmt: skip
    if avatar is None:
        return {Reason.AVATAR_NOT_FOUND}
    reasons = set()
    if (
        avatar.status != "ACTIVE"
        or measure_reasons(measures.get(avatar.id, []))
        or await _likeness_lapsed(avatar, today)
    ):
        reasons.add(Reason.AVATAR_NOT_ACTIVE)
    if not await AvatarDriver.exists(avatar_id=avatar.id, performer_id=performer.id, revoked_at__isnull=True):
        reasons.add(Reason.AVATAR_DRIVER_NOT_AUTHORIZED)
    if not await _operator_standing(avatar, measures, listed):
        reasons.add(Reason.AVATAR_OPERATOR_NOT_ELIGIBLE)
    return reasons


async def _likeness_lapsed(avatar: Avatar, today: date) -> bool:
    # Same rule as registry.avatars.services.status_of (not imported: avatars depend on this module).
    if avatar.kind != "REAL_PERSON_LIKENESS":
        return False
    likeness = await Likeness.get_or_none(avatar_id=avatar.id)
    return likeness is not None and likeness.valid_until is not None and likeness.valid_until < today


def cached_eligibility(actor: Actor, performer_id: str, avatar_id: str | None = None) -> Eligibility | None:
    """The answer of the cache while it is valid, checked now; None when it must be computed."""
    now = clock.now()
    cached = CACHE.get(_key(actor, performer_id, avatar_id), now)
    return None if cached is None else replace(cached, checked_at=now)


async def live_eligibility(actor: Actor, performer_id: str, avatar_id: str | None = None) -> Eligibility | None:
    """None when the performer is unknown to the caller. Answers come from the cache while valid."""
    cached = cached_eligibility(actor, performer_id, avatar_id)
    if cached is not None:
        return cached
    now = clock.now()
    epoch = CACHE.epoch  # read before computing: a write meanwhile makes this answer stale at once
    computed = await _evaluate(actor, performer_id, avatar_id, now)
    if computed is None:
        return None
    result, valid_until = computed
    CACHE.put(_key(actor, performer_id, avatar_id), result, epoch=epoch, valid_until=valid_until)
    return result


def _key(actor: Actor, performer_id: str, avatar_id: str | None) -> tuple[str, ...]:
    return (actor.platform_id, actor.session_id or "", performer_id, avatar_id or "")


async def _evaluate(
    actor: Actor, performer_id: str, avatar_id: str | None, now: datetime
) -> tuple[Eligibility, datetime] | None:
    loaded = await reads.performer_with_measures(actor.platform_id, performer_id, now)
    if loaded is None or not await performers.may_see(actor, loaded.performer):
        return None
    performer = loaded.performer
    today = clock.today_in_shanghai(now)
    avatar = await Avatar.get_or_none(id=avatar_id, platform_id=performer.platform_id) if avatar_id else None
    measures: dict[str, list[Enforcement]] = {performer.id: []}
    if performer.agency_id is not None:
        measures[performer.agency_id] = []
    for measure in loaded.measures:
        measures[measure.subject_id].append(measure)
    standing = loaded.standing
    if avatar is not None:
        measures |= await in_force([s for s in (avatar.id, avatar.operator_id) if s not in measures], now=now)
        standing = await blacklist_standing(performer.platform_id, list(measures))
    listed = standing.listed
    age = performers.age_of(performer, today)  # decrypts the birth date: once per check
    reasons = _person_reasons(performer, age, loaded.minimum_age, now)
    if age < performers.ADULT and await performers.consent_in_force(performer.id) is None:
        reasons.add(Reason.GUARDIAN_CONSENT_MISSING)
    reasons |= measure_reasons(measures[performer.id])
    if performer.id in listed:
        reasons.add(Reason.BLACKLISTED)
    reasons |= await _agency_reasons(performer, measures, listed, today)
    if avatar_id is not None:
        reasons |= await _avatar_reasons(performer, avatar, measures, listed, today)
    ordered = sorted(reasons, key=_ORDER.__getitem__)
    until = _valid_until(performer, measures, now, standing.changes_at)
    return Eligibility(allowed=not ordered, reasons=ordered, checked_at=now), until


def _valid_until(
    performer: Performer, measures: dict[str, list[Enforcement]], now: datetime, listing_ends: datetime | None
) -> datetime:
    """The first instant at which time alone could change the answer (see eligibility_cache)."""
    local = now.astimezone(clock.SHANGHAI)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(), tzinfo=clock.SHANGHAI)
    bounds = [now + MAX_AGE, midnight]
    if performer.reverify_by is not None:
        bounds.append(performer.reverify_by)
    if performer.training_completed_at is not None:
        bounds.append(performer.training_completed_at + TRAINING_VALID)
    if performer.pending_since is not None:
        bounds.append(performer.pending_since + timedelta(seconds=config.current().provider_pending_limit_s))
    bounds += [m.until for found in measures.values() for m in found if m.until is not None]
    if listing_ends is not None:
        bounds.append(listing_ends)
    return min(b for b in bounds if b > now) if any(b > now for b in bounds) else now + MAX_AGE


def _person_reasons(performer: Performer, age: int, minimum_age: int, now: datetime) -> set[Reason]:
    reasons = set()
    status = performers.status_of(performer)
    if status is Status.EXPIRED:
        reasons.add(Reason.VERIFICATION_EXPIRED)
    elif status is not Status.VERIFIED:
        reasons.add(Reason.NOT_VERIFIED)
    if age < minimum_age:
        reasons.add(Reason.UNDER_MINIMUM_AGE)
    trained = performer.training_completed_at
    if trained is None or trained + TRAINING_VALID < now:
        reasons.add(Reason.TRAINING_MISSING)
    return reasons
