"""Enforcement measures: the action table, temporary measures, lifting, subjects, bans, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tortoise.context import TortoiseContext

from registry import clock
from registry.audit.models import AuditEvent
from registry.enforcement import services as enforcement
from registry.enforcement.models import BlacklistKey, Enforcement
from registry.enforcement.screening import MatchKey, Scope, SubjectKeys, store_subject_keys
from registry.enforcement.status import AccountStatus, Action, account_status, in_force
from registry.identities.models import IdentityKey
from registry.organizations import CompanyInput
from registry.performers import organizations
from registry.performers.eligibility import Reason, live_eligibility
from registry.problems import DomainError, ProblemCode
from tests.conftest import make_platform
from tests.factories import document, make_organization, make_performer, resident_id, years_ago
from tests.registry.agencies.helpers import make_agency
from tests.registry.enforcement.helpers import actor, apply, codes, make_avatar, register

pytestmark = pytest.mark.usefixtures("db")


def problem_codes(exc: pytest.ExceptionInfo[DomainError]) -> set[tuple[ProblemCode, tuple[str, ...] | None]]:
    return {(p.code, p.field) for p in exc.value.problems}


async def status_of(subject_id: str) -> AccountStatus:
    return account_status((await in_force([subject_id]))[subject_id])


async def reasons(platform_id: str, performer_id: str, avatar_id: str | None = None) -> list[Reason]:
    result = await live_eligibility(actor(platform_id), performer_id, avatar_id)
    assert result is not None
    return result.reasons


# ----------------------------------------------------------------------------------- action table


@pytest.mark.parametrize(
    ("action", "status", "blocks"),
    [
        (Action.WARN, AccountStatus.WARNED, None),
        (Action.LIMIT_TRAFFIC, AccountStatus.LIMITED, None),
        (Action.LIMIT_FUNCTIONS, AccountStatus.LIMITED, Reason.FUNCTION_LIMITED),
        (Action.SUSPEND_RELEASE, AccountStatus.SUSPENDED, Reason.ACCOUNT_SUSPENDED),
        (Action.CANCEL_ACCOUNT, AccountStatus.CANCELLED, Reason.ACCOUNT_CANCELLED),
    ],
)
async def test_each_action_sets_the_status_of_the_table(
    action: Action, status: AccountStatus, blocks: Reason | None
) -> None:
    platform = await make_platform()
    performer = await make_performer(platform.id)
    assert await reasons(platform.id, performer.id) == []
    applied = await apply(platform.id, performer.id, action, external_ref="CASE-2026-0042")
    measure = applied.enforcement
    assert applied.entry is None and measure.id.startswith("enf_")
    assert (measure.action, measure.reason, measure.external_ref) == (
        action.value,
        "staff note: repeated false claims",
        "CASE-2026-0042",
    )
    assert measure.token_id == "test-token" and measure.public_reason == enforcement.DEFAULT_PUBLIC_REASONS[action]
    assert await status_of(performer.id) is status
    assert await reasons(platform.id, performer.id) == ([blocks] if blocks else [])


async def test_the_worst_measure_in_force_decides_the_status() -> None:
    platform = await make_platform()
    performer = await make_performer(platform.id)
    await apply(platform.id, performer.id, Action.WARN)
    suspension = await apply(platform.id, performer.id, Action.SUSPEND_RELEASE, public_reason="Livestream paused.")
    await apply(platform.id, performer.id, Action.LIMIT_TRAFFIC)
    assert await status_of(performer.id) is AccountStatus.SUSPENDED
    assert suspension.enforcement.public_reason == "Livestream paused."
    await enforcement.lift_enforcement(actor(platform.id), suspension.enforcement.id, "appeal upheld")
    assert await status_of(performer.id) is AccountStatus.LIMITED


@pytest.mark.parametrize("action", [Action.WARN, Action.CANCEL_ACCOUNT])
async def test_warn_and_cancel_are_never_temporary(action: Action) -> None:
    platform = await make_platform()
    performer = await make_performer(platform.id)
    with pytest.raises(DomainError) as refused:
        await apply(platform.id, performer.id, action, until=clock.now() + timedelta(days=3))
    assert problem_codes(refused) == {(ProblemCode.INVALID_INPUT, ("input", "until"))}
    assert not await Enforcement.exists(subject_id=performer.id)


async def test_every_input_problem_at_once() -> None:
    platform = await make_platform()
    with pytest.raises(DomainError) as refused:
        await enforcement.apply_enforcement(
            actor(platform.id),
            enforcement.ApplyInput(
                subject_id="per_nonexistent",
                action=Action.WARN,
                reason=" ",
                until=clock.now() - timedelta(days=1),
                ban_reregistration=True,
                external_ref="has space",
            ),
        )
    assert problem_codes(refused) == {
        (ProblemCode.NOT_FOUND, ("input", "subjectId")),
        (ProblemCode.INVALID_INPUT, ("input", "reason")),
        (ProblemCode.INVALID_INPUT, ("input", "until")),
        (ProblemCode.INVALID_INPUT, ("input", "banReregistration")),
        (ProblemCode.INVALID_INPUT, ("input", "externalRef")),
    }


async def test_blacklist_options_need_a_ban() -> None:
    platform = await make_platform()
    performer = await make_performer(platform.id)
    with pytest.raises(DomainError) as refused:
        await apply(
            platform.id,
            performer.id,
            Action.CANCEL_ACCOUNT,
            blacklist_scope=Scope.JOINT,
            blacklist_until=clock.now() + timedelta(days=30),
        )
    assert problem_codes(refused) == {
        (ProblemCode.INVALID_INPUT, ("input", "blacklistScope")),
        (ProblemCode.INVALID_INPUT, ("input", "blacklistUntil")),
    }


async def test_a_temporary_measure_ends_by_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    platform = await make_platform()
    performer = await make_performer(platform.id)
    until = clock.now() + timedelta(hours=2)
    measure = (await apply(platform.id, performer.id, Action.SUSPEND_RELEASE, until=until)).enforcement
    assert await reasons(platform.id, performer.id) == [Reason.ACCOUNT_SUSPENDED]
    later = until + timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert await status_of(performer.id) is AccountStatus.ACTIVE
    assert await reasons(platform.id, performer.id) == []
    with pytest.raises(DomainError) as refused:
        await enforcement.lift_enforcement(actor(platform.id), measure.id, "too late")
    assert [p.code for p in refused.value.problems] == [ProblemCode.INVALID_TRANSITION]
    assert (await Enforcement.get(id=measure.id)).lifted_at is None


# ------------------------------------------------------------------------------------------- lifting


async def test_lifting_is_recorded_never_deleted() -> None:
    platform = await make_platform()
    performer = await make_performer(platform.id)
    measure = (await apply(platform.id, performer.id, Action.LIMIT_FUNCTIONS)).enforcement
    lifted = await enforcement.lift_enforcement(actor(platform.id), measure.id, "  appeal   upheld ")
    assert lifted.lifted_at is not None and lifted.lift_reason == "appeal upheld"
    stored = await Enforcement.get(id=measure.id)
    assert stored.lifted_at == lifted.lifted_at and stored.action == "LIMIT_FUNCTIONS"
    assert await reasons(platform.id, performer.id) == []
    with pytest.raises(DomainError) as again:
        await enforcement.lift_enforcement(actor(platform.id), measure.id, "twice")
    assert [p.code for p in again.value.problems] == [ProblemCode.INVALID_TRANSITION]


async def test_a_cancellation_cannot_be_lifted() -> None:
    platform = await make_platform()
    performer = await make_performer(platform.id)
    measure = (await apply(platform.id, performer.id, Action.CANCEL_ACCOUNT)).enforcement
    with pytest.raises(DomainError) as refused:
        await enforcement.lift_enforcement(actor(platform.id), measure.id, "mistake")
    assert [p.code for p in refused.value.problems] == [ProblemCode.INVALID_TRANSITION]
    assert await status_of(performer.id) is AccountStatus.CANCELLED


async def test_another_platforms_measure_does_not_exist() -> None:
    platform, other = await make_platform(), await make_platform()
    performer = await make_performer(platform.id)
    measure = (await apply(platform.id, performer.id, Action.WARN)).enforcement
    with pytest.raises(DomainError) as refused:
        await enforcement.lift_enforcement(actor(other.id), measure.id, "not mine")
    assert problem_codes(refused) == {(ProblemCode.NOT_FOUND, ("input", "enforcementId"))}
    assert await enforcement.get_enforcement(actor(other.id), measure.id) is None
    with pytest.raises(DomainError) as foreign_subject:
        await apply(other.id, performer.id, Action.WARN)
    assert problem_codes(foreign_subject) == {(ProblemCode.NOT_FOUND, ("input", "subjectId"))}


async def test_a_cancelled_account_takes_no_further_measure_except_a_later_ban() -> None:
    platform = await make_platform()
    performer = await make_performer(platform.id)
    await apply(platform.id, performer.id, Action.CANCEL_ACCOUNT)
    for action in (Action.WARN, Action.SUSPEND_RELEASE, Action.CANCEL_ACCOUNT):
        with pytest.raises(DomainError) as refused:
            await apply(platform.id, performer.id, action)
        assert [p.code for p in refused.value.problems] == [ProblemCode.INVALID_TRANSITION]
    later = await apply(platform.id, performer.id, Action.CANCEL_ACCOUNT, ban_reregistration=True)
    assert later.entry is not None and later.entry.enforcement_id == later.enforcement.id
    with pytest.raises(DomainError) as banned_twice:
        await apply(platform.id, performer.id, Action.CANCEL_ACCOUNT, ban_reregistration=True)
    assert [p.code for p in banned_twice.value.problems] == [ProblemCode.INVALID_TRANSITION]


# ------------------------------------------------------------------------------------------ subjects


async def test_organizations_agencies_and_avatars_are_subjects_too() -> None:
    platform = await make_platform()
    organization = await make_organization(platform.id)
    agency = await make_agency(platform.id)
    operator = await make_performer(platform.id, role="ROOM_OPERATOR")
    for subject_id in (organization.id, agency.id):
        await apply(platform.id, subject_id, Action.SUSPEND_RELEASE)
        assert await status_of(subject_id) is AccountStatus.SUSPENDED
    driver = await make_performer(platform.id, name="王小二")
    avatar = await make_avatar(platform.id, operator, driver=driver)
    assert await reasons(platform.id, driver.id, avatar.id) == []
    measure = (await apply(platform.id, avatar.id, Action.SUSPEND_RELEASE)).enforcement
    # Avatar.status stays the registry lifecycle; the measure in force counts at read time.
    assert (await type(avatar).get(id=avatar.id)).status == "ACTIVE"
    assert await reasons(platform.id, driver.id, avatar.id) == [Reason.AVATAR_NOT_ACTIVE]
    await enforcement.lift_enforcement(actor(platform.id), measure.id, "label fixed")
    assert await reasons(platform.id, driver.id, avatar.id) == []
    with pytest.raises(DomainError) as unknown:
        await apply(platform.id, "sup_abc", Action.WARN)
    assert problem_codes(unknown) == {(ProblemCode.NOT_FOUND, ("input", "subjectId"))}


async def test_a_retired_avatar_takes_no_measure() -> None:
    platform = await make_platform()
    operator = await make_performer(platform.id, role="ROOM_OPERATOR")
    avatar = await make_avatar(platform.id, operator)
    avatar.status = "RETIRED"
    await avatar.save()
    with pytest.raises(DomainError) as refused:
        await apply(platform.id, avatar.id, Action.SUSPEND_RELEASE)
    assert [p.code for p in refused.value.problems] == [ProblemCode.INVALID_TRANSITION]


# ----------------------------------------------------------------------------------------------- bans


async def test_a_ban_holds_every_key_of_the_performer(db: TortoiseContext) -> None:
    platform, other = await make_platform(), await make_platform()
    number = resident_id(years_ago(33))
    performer = (await register(platform.id, number, device_id="dev-42", phone="+86 139 0013 9000")).performer
    assert performer is not None
    # An earlier document of the same person (e.g. before a renewal) stays among its keys.
    await store_subject_keys(performer.id, platform.id, SubjectKeys(documents=["PASSPORT:CHN:E12345678"]))
    applied = await apply(platform.id, performer.id, Action.CANCEL_ACCOUNT, ban_reregistration=True)
    entry = applied.entry
    assert entry is not None and entry.scope == "PLATFORM" and entry.reason == applied.enforcement.reason
    kinds = await enforcement.entry_kinds([entry.id])
    assert kinds[entry.id] == [MatchKey.DOCUMENT, MatchKey.PHONE, MatchKey.DEVICE, MatchKey.NAME_AND_BIRTHDATE]
    stored = {k.value for k in await IdentityKey.filter(subject_id=performer.id)}
    assert {k.value for k in await BlacklistKey.filter(entry_id=entry.id)} == stored
    # Re-registration is refused on the banning platform (other role too), allowed elsewhere.
    assert codes(await register(platform.id, number, role="ROOM_OPERATOR")) == [ProblemCode.BLACKLISTED]
    elsewhere = await register(other.id, number)
    assert elsewhere.performer is not None and elsewhere.performer.verification_status == "VERIFIED"
    # The weak keys alone send another person to review.
    other_person = await register(platform.id, phone="13900139000", name="李四")
    assert other_person.performer is not None and other_person.performer.verification_status == "REVIEW"


async def test_a_joint_ban_reaches_every_platform() -> None:
    platform, other = await make_platform(), await make_platform()
    number = resident_id(years_ago(28))
    performer = (await register(platform.id, number)).performer
    same_person_elsewhere = (await register(other.id, number)).performer
    assert performer is not None and same_person_elsewhere is not None
    await apply(platform.id, performer.id, Action.CANCEL_ACCOUNT, ban_reregistration=True, blacklist_scope=Scope.JOINT)
    assert codes(await register(other.id, number, role="ROOM_OPERATOR")) == [ProblemCode.BLACKLISTED]
    assert Reason.BLACKLISTED in await reasons(other.id, same_person_elsewhere.id)


async def test_banning_an_organization_blocks_its_credit_code_and_representative() -> None:
    platform = await make_platform()
    organization = await make_organization(platform.id)
    entry = (await apply(platform.id, organization.id, Action.CANCEL_ACCOUNT, ban_reregistration=True)).entry
    assert entry is not None
    assert (await enforcement.entry_kinds([entry.id]))[entry.id] == [MatchKey.DOCUMENT, MatchKey.CREDIT_CODE]
    await organization.delete()  # a new registration of the same company, as after an account closure
    again = CompanyInput(
        name="深圳市另一家直播有限公司",
        credit_code=organization.credit_code,
        address="深圳市福田区示例大道2号",
        contact_phone="0755-87654321",
        representative=document(years_ago(35), name="钱七"),
        external_ref=None,
    )
    outcome = await organizations.register_organization(actor(platform.id), again)
    assert outcome.organization is None and [p.code for p in outcome.problems] == [ProblemCode.BLACKLISTED]


async def test_banning_an_avatar_blacklists_its_image() -> None:
    platform = await make_platform()
    operator = await make_performer(platform.id, role="ROOM_OPERATOR")
    avatar = await make_avatar(platform.id, operator, seed=11)
    entry = (
        await apply(
            platform.id,
            avatar.id,
            Action.CANCEL_ACCOUNT,
            ban_reregistration=True,
            blacklist_until=clock.now() + timedelta(days=365),
        )
    ).entry
    assert entry is not None and entry.until is not None
    key = await BlacklistKey.get(entry_id=entry.id)
    assert key.kind == "AVATAR_IMAGE" and key.phash == avatar.phash and key.band2 == avatar.band2


async def test_every_measure_leaves_an_audit_event_without_personal_data() -> None:
    platform = await make_platform()
    number = resident_id(years_ago(40))
    performer = (await register(platform.id, number)).performer
    assert performer is not None
    measure = (await apply(platform.id, performer.id, Action.SUSPEND_RELEASE, external_ref="CASE-7")).enforcement
    await enforcement.lift_enforcement(actor(platform.id), measure.id, "appeal upheld")
    applied = await apply(platform.id, performer.id, Action.CANCEL_ACCOUNT, ban_reregistration=True)
    assert applied.entry is not None
    await enforcement.remove_blacklist_entry(actor(platform.id), applied.entry.id, "rehabilitated")
    events = await AuditEvent.filter(platform_id=platform.id).order_by("seq")
    actions = [e.action for e in events if e.action.startswith(("enforcement.", "blacklist."))]
    assert actions == [
        "enforcement.applied",
        "enforcement.lifted",
        "enforcement.applied",
        "blacklist.added",
        "blacklist.removed",
    ]
    for event in events:
        assert number not in event.canonical and "staff note" not in event.canonical
        assert "appeal upheld" not in event.canonical and "rehabilitated" not in event.canonical
    assert any('"externalRef":"CASE-7"' in e.canonical for e in events)
