"""Written cooperation agreements between an agency and a performer or operator organization.

Completeness is one rule, `registry.performers.eligibility.complete` (DESIGN §2): the duties of the
party's role (three for a MARKETER, five for a room operator, person or organization), not expired,
not terminated and not superseded. It is evaluated when read, so expiry needs no batch job.

Of the agreements between the same two parties, the one signed last (the one recorded last on a
tie) is in force; recording an agreement supersedes every other one still in force. Backfilling an
agreement signed before the one in force records it already superseded. Terminated and superseded
agreements are final.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from tortoise.transactions import in_transaction

from registry import audit, clock
from registry.actors import Actor
from registry.agencies import services as agencies
from registry.agencies.models import Agreement
from registry.audit.services import Change
from registry.ids import new_id, prefix_of
from registry.performers import eligibility
from registry.performers.models import OperatorOrganization, Performer
from registry.problems import Problem, ProblemCode, prefixed, problem
from registry.uploads import Upload, store_evidence
from registry.validators.text import clean_text

ROOM_OPERATOR = "ROOM_OPERATOR"
Party = Performer | OperatorOrganization
_PARTY_MODELS: dict[str, type[Performer] | type[OperatorOrganization]] = {
    "per": Performer,
    "org": OperatorOrganization,
}


@dataclass(frozen=True, slots=True)
class AgreementInput:
    agency_id: str
    party_id: str
    signed_at: datetime
    information_security: bool
    commodity_quality_audit: bool
    consumer_protection: bool
    valid_until: date | None = None
    marketer_management: bool = False
    content_management: bool = False
    document: Upload | None = None


@dataclass(frozen=True, slots=True)
class AgreementOutcome:
    agreement: Agreement | None
    problems: list[Problem]


# ---------------------------------------------------------------------------------------- reads


def is_complete(agreement: Agreement, today: date | None = None) -> bool:
    return eligibility.complete(agreement, agreement.party_role, today or clock.today_in_shanghai())


def role_of(party: Party) -> str:
    """Organizations run live rooms: they owe the room operator's duties."""
    return party.role if isinstance(party, Performer) else ROOM_OPERATOR


async def get_agreement(actor: Actor, agreement_id: str) -> Agreement | None:
    if actor.session_id is not None:
        return None
    return await Agreement.get_or_none(id=agreement_id, platform_id=actor.platform_id)


async def agreements_of_parties(actor: Actor, party_ids: Sequence[str]) -> dict[str, list[Agreement]]:
    return await _grouped(actor, "party_id", party_ids)


async def agreements_of_agencies(actor: Actor, agency_ids: Sequence[str]) -> dict[str, list[Agreement]]:
    return await _grouped(actor, "agency_id", agency_ids)


async def _grouped(actor: Actor, column: str, ids: Sequence[str]) -> dict[str, list[Agreement]]:
    """Newest signature first, for each id (one query for all of them)."""
    found: dict[str, list[Agreement]] = {i: [] for i in ids}
    if actor.session_id is not None or not ids:
        return found
    rows = await Agreement.filter(platform_id=actor.platform_id, **{f"{column}__in": list(ids)}).order_by(
        "-signed_at", "-created_at", "id"
    )
    for row in rows:
        found[getattr(row, column)].append(row)
    return found


async def parties_by_ids(actor: Actor, party_ids: Sequence[str]) -> dict[str, Party]:
    found: dict[str, Party] = {}
    if actor.session_id is not None:
        return found
    for prefix, model in _PARTY_MODELS.items():
        wanted = [i for i in party_ids if prefix_of(i) == prefix]
        if wanted:
            found.update({r.id: r for r in await model.filter(platform_id=actor.platform_id, id__in=wanted)})
    return found


async def _party(actor: Actor, party_id: str) -> Party | None:
    return (await parties_by_ids(actor, [party_id])).get(party_id)


# ------------------------------------------------------------------------------------ recording


def _date_problems(data: AgreementInput) -> list[Problem]:
    if data.signed_at.tzinfo is None:
        return [problem(ProblemCode.INVALID_INPUT, "Give the signing time with its UTC offset.", "input", "signedAt")]
    if data.signed_at > clock.now():
        return [problem(ProblemCode.INVALID_INPUT, "An agreement cannot be signed in the future.", "input", "signedAt")]
    signed_on = clock.today_in_shanghai(data.signed_at)
    if data.valid_until is not None and data.valid_until < signed_on:
        message = "The agreement cannot end before the day it was signed."
        return [problem(ProblemCode.INVALID_INPUT, message, "input", "validUntil")]
    return []


async def _check(actor: Actor, data: AgreementInput) -> tuple[Party | None, list[Problem]]:
    """The party, or every problem with the agency, the party and the dates."""
    problems = _date_problems(data)
    agency = await agencies.get_agency(actor, data.agency_id)
    if agency is None:
        problems.append(problem(ProblemCode.NOT_FOUND, "No such agency on this platform.", "input", "agencyId"))
    elif not await agencies.in_good_standing(agency):
        message = "The agency is not verified, or it is suspended, cancelled or blacklisted."
        problems.append(problem(ProblemCode.AGENCY_NOT_ELIGIBLE, message, "input", "agencyId"))
    party = await _party(actor, data.party_id)
    if party is None:
        message = "No such performer or operator organization on this platform."
        problems.append(problem(ProblemCode.NOT_FOUND, message, "input", "partyId"))
    return (party if not problems else None), problems


async def record_agreement(actor: Actor, data: AgreementInput) -> AgreementOutcome:
    party, problems = await _check(actor, data)
    if party is None:
        return AgreementOutcome(None, problems)
    sha256, problems = await store_evidence(data.document, "input", "document")
    if problems:
        return AgreementOutcome(None, problems)
    async with in_transaction():
        # Locking the party serializes agreements of one party, so exactly one stays in force.
        await type(party).select_for_update().get(id=party.id)
        agreement = await Agreement.create(
            id=new_id("agr"),
            platform_id=actor.platform_id,
            agency_id=data.agency_id,
            party_id=party.id,
            party_role=role_of(party),
            signed_at=data.signed_at,
            valid_until=data.valid_until,
            information_security=data.information_security,
            commodity_quality_audit=data.commodity_quality_audit,
            consumer_protection=data.consumer_protection,
            marketer_management=data.marketer_management,
            content_management=data.content_management,
            document_sha256=sha256,
        )
        superseded = await _supersede(agreement)
        recorded = Change("agreement.recorded", agreement.id, _recorded_data(agreement))
        await audit.services.record_many(actor, [recorded, *superseded])
    return AgreementOutcome(agreement, [])


def _recorded_data(agreement: Agreement) -> dict[str, object]:
    return {
        "agency": agreement.agency_id,
        "party": agreement.party_id,
        "partyRole": agreement.party_role,
        "signedAt": agreement.signed_at,
        "validUntil": agreement.valid_until.isoformat() if agreement.valid_until else None,
        "duties": {
            "informationSecurity": agreement.information_security,
            "commodityQualityAudit": agreement.commodity_quality_audit,
            "consumerProtection": agreement.consumer_protection,
            "marketerManagement": agreement.marketer_management,
            "contentManagement": agreement.content_management,
        },
        "documentSha256": agreement.document_sha256,
        "complete": is_complete(agreement),
    }


async def _supersede(recorded: Agreement) -> list[Change]:
    """Leave in force only the agreement of the pair signed last; the others are superseded now."""
    pair = await Agreement.filter(agency_id=recorded.agency_id, party_id=recorded.party_id)
    latest = max(pair, key=lambda a: (a.signed_at, a.id == recorded.id))
    stale = [a.id for a in pair if a.id != latest.id and a.superseded_at is None and a.terminated_at is None]
    if not stale:
        return []
    now = clock.now()
    await Agreement.filter(id__in=stale).update(superseded_at=now)
    if recorded.id in stale:
        recorded.superseded_at = now
    return [Change("agreement.superseded", agreement_id, {"by": latest.id}) for agreement_id in stale]


# ---------------------------------------------------------------------------------- termination


async def terminate_agreement(actor: Actor, agreement_id: str, reason: str) -> AgreementOutcome:
    cleaned, problems = clean_text(reason, max_len=500)
    if cleaned is None:
        return AgreementOutcome(None, prefixed(problems, "input", "reason"))
    async with in_transaction():
        agreement = None
        if actor.session_id is None:
            agreement = await Agreement.select_for_update().get_or_none(id=agreement_id, platform_id=actor.platform_id)
        if agreement is None:
            message = "No such agreement on this platform."
            return AgreementOutcome(None, [problem(ProblemCode.NOT_FOUND, message, "input", "agreementId")])
        ended = _ended(agreement)
        if ended is not None:
            message = f"The agreement was already {ended}; only an agreement in force can be terminated."
            return AgreementOutcome(None, [problem(ProblemCode.INVALID_TRANSITION, message, "input", "agreementId")])
        agreement.terminated_at, agreement.terminate_reason = clock.now(), cleaned
        await agreement.save(update_fields=["terminated_at", "terminate_reason"])
        # The reason is free text that may name people: it stays on the record, out of the chain.
        data = {"agency": agreement.agency_id, "party": agreement.party_id}
        await audit.services.record(actor, Change("agreement.terminated", agreement.id, data))
    return AgreementOutcome(agreement, [])


def _ended(agreement: Agreement) -> str | None:
    if agreement.terminated_at is not None:
        return "terminated"
    if agreement.superseded_at is not None:
        return "superseded by a later agreement"
    return None
