"""Onboarding sessions: a short-lived client token for one applicant's mobile or web client.

The session fixes (platform, role, externalRef); a session started for an existing performer is
bound to it. Cancelling ends the session and revokes its client token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tortoise.transactions import in_transaction

from registry import audit, clock
from registry.actors import Actor
from registry.audit.services import Change
from registry.ids import new_id
from registry.onboarding.models import OnboardingSession
from registry.performers.models import Performer
from registry.problems import DomainError, Problem, ProblemCode, prefixed, problem
from registry.validators.text import clean_external_ref

TTL_RANGE = range(300, 86401)
ROLES = ("ROOM_OPERATOR", "MARKETER")


class SessionStatus(StrEnum):
    OPEN = "OPEN"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True, slots=True)
class Started:
    session: OnboardingSession
    token_expires_at: datetime


def status_of(session: OnboardingSession, now: datetime | None = None) -> SessionStatus:
    stored = SessionStatus(session.status)
    if stored is not SessionStatus.CANCELLED and session.expires_at <= (now or clock.now()):
        return SessionStatus.EXPIRED
    return stored


async def start_session(actor: Actor, role: str, external_ref: str, ttl_seconds: int) -> OnboardingSession:
    problems: list[Problem] = []
    if role not in ROLES:
        problems.append(problem(ProblemCode.INVALID_INPUT, "Choose ROOM_OPERATOR or MARKETER.", "input", "role"))
    ref, ref_problems = clean_external_ref(external_ref)
    problems += prefixed(ref_problems, "input", "externalRef")
    if ttl_seconds not in TTL_RANGE:
        message = "ttlSeconds must be between 300 and 86400."
        problems.append(problem(ProblemCode.LIMIT_EXCEEDED, message, "input", "ttlSeconds"))
    if problems:
        raise DomainError(problems)
    performer = await Performer.get_or_none(platform_id=actor.platform_id, role=role, external_ref=ref)
    session = OnboardingSession(
        id=new_id("onb"),
        platform_id=actor.platform_id,
        role=role,
        external_ref=ref,
        status=SessionStatus.OPEN.value,
        performer_id=performer.id if performer else None,
        expires_at=clock.now() + timedelta(seconds=ttl_seconds),
    )
    async with in_transaction():
        await session.save(force_create=True)
        data = {"role": role, "externalRef": ref, "performer": session.performer_id, "expiresAt": session.expires_at}
        await audit.services.record(actor, Change("onboarding.started", session.id, data))
    return session


async def attach_token(session: OnboardingSession, token_id: str) -> None:
    session.token_id = token_id
    await session.save(update_fields=["token_id"])


async def get_session(actor: Actor, session_id: str) -> OnboardingSession | None:
    """A platform reads its sessions; a client token only its own."""
    if actor.session_id is not None and actor.session_id != session_id:
        return None
    return await OnboardingSession.get_or_none(id=session_id, platform_id=actor.platform_id)


async def cancel_session(actor: Actor, session_id: str) -> OnboardingSession:
    async with in_transaction():
        session = await OnboardingSession.select_for_update().get_or_none(id=session_id, platform_id=actor.platform_id)
        if session is None or actor.session_id is not None:
            raise DomainError(problem(ProblemCode.NOT_FOUND, "No such onboarding session.", "input", "sessionId"))
        if status_of(session) is SessionStatus.CANCELLED:
            return session  # cancelling twice is harmless (safe retries)
        session.status, session.cancelled_at = SessionStatus.CANCELLED.value, clock.now()
        await session.save(update_fields=["status", "cancelled_at"])
        await audit.services.record(actor, Change("onboarding.cancelled", session.id, {"token": session.token_id}))
    return session
