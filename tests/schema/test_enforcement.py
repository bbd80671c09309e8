"""Enforcement, blacklist and screening through the real HTTP endpoint, across two platforms."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from registry import clock
from registry.platforms.scopes import PLATFORM_SCOPES
from tests.conftest import PlatformClient, get_token, gql, make_platform
from tests.factories import image_bytes, make_performer, resident_id, years_ago
from tests.registry.enforcement.helpers import legacy_pair

pytestmark = pytest.mark.usefixtures("db")

WITH_JOINT = " ".join(PLATFORM_SCOPES)

ENTRY = "id scope reason keys createdAt until removedAt removedReason externalRef"
APPLY = f"""mutation($input: ApplyEnforcementInput!) {{ applyEnforcement(input: $input) {{
  enforcement {{ id action reason publicReason since until liftedAt liftReason externalRef
                 subject {{ __typename id }} }}
  subject {{ __typename id ... on Performer {{ accountStatus restrictions {{ id action }} }} }}
  blacklistEntry {{ {ENTRY} }}
  problems {{ code message field }} }} }}"""
LIFT = """mutation($input: LiftEnforcementInput!) { liftEnforcement(input: $input) {
  enforcement { id liftedAt liftReason } problems { code field } } }"""
ADD = f"""mutation($input: BlacklistEntryInput!) {{ addBlacklistEntry(input: $input) {{
  entry {{ {ENTRY} }} problems {{ code message field }} }} }}"""
REMOVE = f"""mutation($input: RemoveBlacklistEntryInput!) {{ removeBlacklistEntry(input: $input) {{
  entry {{ {ENTRY} }} problems {{ code field }} }} }}"""
SCREEN = """query($input: ScreeningInput!) { screen(input: $input) {
  decision matches { key scope score entryId } problems { code message field } } }"""
ELIGIBILITY = "query($id: ID!) { liveEligibility(performerId: $id) { allowed reasons } }"
NODE = f"""query($id: ID!) {{ node(id: $id) {{ __typename id
  ... on Enforcement {{ action subject {{ id }} }} ... on BlacklistEntry {{ {ENTRY} }} }} }}"""


async def call(client: httpx.AsyncClient, token: str, query: str, **variables: Any) -> dict[str, Any]:
    response = await gql(client, query, variables, token=token)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def data(client: httpx.AsyncClient, token: str, query: str, **variables: Any) -> Any:
    body = await call(client, token, query, **variables)
    assert "errors" not in body, body
    return next(iter(body["data"].values()))


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def doc(number: str, **extra: Any) -> dict[str, Any]:
    return {"type": "RESIDENT_ID_CARD", "number": number, **extra}


async def reasons(client: httpx.AsyncClient, token: str, performer_id: str) -> list[str]:
    return list((await data(client, token, ELIGIBILITY, id=performer_id))["reasons"])


# ------------------------------------------------------------------------------------------ measures


async def test_apply_read_and_lift_a_measure(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    performer = await make_performer(platform.id)
    applied = await data(
        client,
        token,
        APPLY,
        input={
            "subjectId": performer.id,
            "action": "SUSPEND_RELEASE",
            "reason": "internal: misleading health claims",
            "until": "2099-01-01T00:00:00+00:00",
            "externalRef": "CASE-88",
        },
    )
    measure = applied["enforcement"]
    assert applied["problems"] == [] and applied["blacklistEntry"] is None
    assert measure["action"] == "SUSPEND_RELEASE" and measure["externalRef"] == "CASE-88"
    assert measure["publicReason"].startswith("The platform has suspended") and measure["liftedAt"] is None
    assert measure["subject"] == {"__typename": "Performer", "id": performer.id}
    assert applied["subject"]["accountStatus"] == "SUSPENDED"
    assert applied["subject"]["restrictions"] == [{"id": measure["id"], "action": "SUSPEND_RELEASE"}]
    assert await reasons(client, token, performer.id) == ["ACCOUNT_SUSPENDED"]
    node = await data(client, token, NODE, id=measure["id"])
    assert node == {"__typename": "Enforcement", "id": measure["id"], "action": "SUSPEND_RELEASE",
                    "subject": {"id": performer.id}}  # fmt: skip

    lifted = await data(client, token, LIFT, input={"enforcementId": measure["id"], "reason": "appeal upheld"})
    assert lifted["problems"] == [] and lifted["enforcement"]["liftReason"] == "appeal upheld"
    assert await reasons(client, token, performer.id) == []
    again = await data(client, token, LIFT, input={"enforcementId": measure["id"], "reason": "again"})
    assert again == {"enforcement": None, "problems": [{"code": "INVALID_TRANSITION", "field": ["input"]}]}


async def test_measure_problems_come_back_as_data(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    performer = await make_performer(platform.id)
    answer = await data(
        client,
        token,
        APPLY,
        input={"subjectId": performer.id, "action": "WARN", "reason": "r", "until": "2099-01-01T00:00:00Z",
               "banReregistration": True},
    )  # fmt: skip
    assert answer["enforcement"] is None and answer["subject"] is None
    assert {(p["code"], tuple(p["field"])) for p in answer["problems"]} == {
        ("INVALID_INPUT", ("input", "until")),
        ("INVALID_INPUT", ("input", "banReregistration")),
    }


async def test_another_platform_cannot_see_or_touch_a_measure(
    client: httpx.AsyncClient, platform: PlatformClient
) -> None:
    token = await get_token(client, platform)
    performer = await make_performer(platform.id)
    measure = (await data(client, token, APPLY, input={"subjectId": performer.id, "action": "WARN", "reason": "r"}))[
        "enforcement"
    ]
    other_token = await get_token(client, await make_platform())
    assert (await data(client, other_token, NODE, id=measure["id"])) is None
    lift = await data(client, other_token, LIFT, input={"enforcementId": measure["id"], "reason": "x"})
    assert lift["problems"] == [{"code": "NOT_FOUND", "field": ["input", "enforcementId"]}]
    apply = await data(client, other_token, APPLY, input={"subjectId": performer.id, "action": "WARN", "reason": "x"})
    assert [(p["code"], p["field"]) for p in apply["problems"]] == [("NOT_FOUND", ["input", "subjectId"])]


async def test_scopes_of_measures(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    performer = await make_performer(platform.id)
    reader = await get_token(client, platform, scope="performers:read blacklist:read")
    refused = await call(client, reader, APPLY, input={"subjectId": performer.id, "action": "WARN", "reason": "r"})
    assert refused["data"] is None and error_codes(refused) == ["FORBIDDEN"]
    # enforcement:write alone acts, but reading the subject needs the subject's read scope.
    writer = await get_token(client, platform, scope="enforcement:write")
    body = await call(client, writer, APPLY, input={"subjectId": performer.id, "action": "WARN", "reason": "r"})
    payload = body["data"]["applyEnforcement"]
    assert payload["enforcement"]["action"] == "WARN" and payload["subject"] is None
    assert payload["enforcement"]["subject"] is None and set(error_codes(body)) == {"FORBIDDEN"}
    node = await call(client, writer, NODE, id=payload["enforcement"]["id"])
    assert node["data"]["node"]["action"] == "WARN"
    entry_node = await call(client, writer, NODE, id="ble_unknown")
    assert error_codes(entry_node) == ["FORBIDDEN"]


# ------------------------------------------------------------------------------------------- bans


async def test_a_joint_ban_needs_the_joint_scope(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    performer = await make_performer(platform.id)
    ban = {"subjectId": performer.id, "action": "CANCEL_ACCOUNT", "reason": "fraud", "banReregistration": True,
           "blacklistScope": "JOINT"}  # fmt: skip
    refused = await call(client, token, APPLY, input=ban)
    assert refused["data"] is None and error_codes(refused) == ["FORBIDDEN"]
    entry = await call(client, token, ADD, input={"reason": "r", "scope": "JOINT", "phone": "13800138000"})
    assert entry["data"] is None and error_codes(entry) == ["FORBIDDEN"]
    answer = await data(client, token, ELIGIBILITY, id=performer.id)
    assert answer["allowed"] is True  # nothing was written

    joint = await make_platform(scopes=WITH_JOINT)
    joint_token = await get_token(client, joint)
    joint_performer = await make_performer(joint.id)
    banned = await data(client, joint_token, APPLY, input={**ban, "subjectId": joint_performer.id,
                                                           "blacklistUntil": "2099-01-01T00:00:00+00:00"})  # fmt: skip
    entry = banned["blacklistEntry"]
    assert banned["problems"] == [] and banned["subject"]["accountStatus"] == "CANCELLED"
    assert entry["scope"] == "JOINT" and entry["reason"] == "fraud" and entry["until"].startswith("2099-01-01")
    assert entry["keys"] == ["DOCUMENT", "PHONE", "NAME_AND_BIRTHDATE"]


async def test_a_joint_entry_acts_on_every_platform_at_once(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    listing, other = await make_platform(scopes=WITH_JOINT), await make_platform()
    listing_token, other_token = await get_token(client, listing), await get_token(client, other)
    number = resident_id(years_ago(33))
    performer = await make_performer(other.id, number=number)
    assert await reasons(client, other_token, performer.id) == []

    added = await data(
        client,
        listing_token,
        ADD,
        input={"reason": "joint punishment notice 17", "scope": "JOINT", "externalRef": "SAMR-17",
               "document": doc(number, fullName="张三")},
    )  # fmt: skip
    entry = added["entry"]
    assert added["problems"] == [] and entry["keys"] == ["DOCUMENT", "NAME_AND_BIRTHDATE"]
    assert entry["externalRef"] == "SAMR-17" and entry["removedAt"] is None
    assert await reasons(client, other_token, performer.id) == ["BLACKLISTED"]

    seen_by_other = await data(client, other_token, SCREEN, input={"document": doc(number)})
    assert seen_by_other == {
        "decision": "BLOCK",
        "matches": [{"key": "DOCUMENT", "scope": "JOINT", "score": 1.0, "entryId": None}],
        "problems": [],
    }
    seen_by_lister = await data(client, listing_token, SCREEN, input={"document": doc(number)})
    assert seen_by_lister["matches"][0]["entryId"] == entry["id"]
    assert await data(client, other_token, NODE, id=entry["id"]) is None
    assert (await data(client, listing_token, NODE, id=entry["id"]))["reason"] == "joint punishment notice 17"

    not_theirs = await data(client, other_token, REMOVE, input={"entryId": entry["id"], "reason": "no"})
    assert not_theirs == {"entry": None, "problems": [{"code": "NOT_FOUND", "field": ["input", "entryId"]}]}
    removed = await data(client, listing_token, REMOVE, input={"entryId": entry["id"], "reason": "notice withdrawn"})
    assert removed["entry"]["removedReason"] == "notice withdrawn" and removed["entry"]["removedAt"]
    assert await reasons(client, other_token, performer.id) == []
    assert (await data(client, other_token, SCREEN, input={"document": doc(number)}))["decision"] == "CLEAR"

    until = clock.now() + timedelta(hours=1)
    temporary = {"reason": "r", "scope": "JOINT", "document": doc(number), "until": until.isoformat()}
    assert (await data(client, listing_token, ADD, input=temporary))["problems"] == []
    assert await reasons(client, other_token, performer.id) == ["BLACKLISTED"]
    later = until + timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert await reasons(client, other_token, performer.id) == []  # expired by itself, no batch job


async def test_entries_take_legacy_numbers_and_phones_in_any_form(
    client: httpx.AsyncClient, platform: PlatformClient
) -> None:
    token = await get_token(client, platform)
    legacy, modern = legacy_pair()
    added = await data(client, token, ADD, input={"reason": "r", "scope": "PLATFORM", "document": doc(legacy),
                                                  "phone": "139 0013 9000"})  # fmt: skip
    assert added["problems"] == [] and added["entry"]["keys"] == ["DOCUMENT", "PHONE"]
    blocked = await data(client, token, SCREEN, input={"document": doc(modern), "phone": "+8613900139000"})
    assert blocked["decision"] == "BLOCK"
    assert [m["key"] for m in blocked["matches"]] == ["DOCUMENT", "PHONE"]
    empty = await data(client, token, ADD, input={"reason": "r", "scope": "PLATFORM"})
    assert empty == {"entry": None, "problems": [{"code": "INVALID_INPUT", "message": empty["problems"][0]["message"],
                                                  "field": ["input"]}]}  # fmt: skip


async def test_screen_never_answers_a_false_clear(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    answer = await data(client, token, SCREEN, input={"document": doc("110105199001011230"), "creditCode": "X"})
    assert answer["decision"] is None and answer["matches"] == []
    assert {tuple(p["field"]) for p in answer["problems"]} == {("input", "document", "number"), ("input", "creditCode")}
    nothing = await data(client, token, SCREEN, input={})
    assert nothing["decision"] is None and [p["code"] for p in nothing["problems"]] == ["INVALID_INPUT"]
    clear = await data(client, token, SCREEN, input={"deviceId": "never-seen"})
    assert clear == {"decision": "CLEAR", "matches": [], "problems": []}
    writer_only = await get_token(client, platform, scope="performers:write")
    assert error_codes(await call(client, writer_only, SCREEN, input={"deviceId": "d"})) == ["FORBIDDEN"]


async def test_avatar_images_upload_into_entries_and_screening(
    client: httpx.AsyncClient, platform: PlatformClient
) -> None:
    token = await get_token(client, platform)

    async def multipart(query: str, input: dict[str, Any], image: bytes) -> dict[str, Any]:
        operations = {"query": query, "variables": {"input": {**input, "avatarImage": None}}}
        response = await client.post(
            "/graphql",
            data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.input.avatarImage"]})},
            files={"0": ("avatar.png", image, "image/png")},
            headers={"Authorization": f"Bearer {token}", "Apollo-Require-Preflight": "true"},
        )
        body = response.json()
        assert "errors" not in body, body
        return dict(next(iter(body["data"].values())))

    added = await multipart(ADD, {"reason": "deepfake of a celebrity", "scope": "PLATFORM"}, image_bytes(31))
    assert added["problems"] == [] and added["entry"]["keys"] == ["AVATAR_IMAGE"]
    screened = await multipart(SCREEN, {}, image_bytes(31))
    assert screened["decision"] == "REVIEW"
    assert screened["matches"] == [{"key": "AVATAR_IMAGE", "scope": "PLATFORM", "score": 1.0,
                                    "entryId": added["entry"]["id"]}]  # fmt: skip
    broken = await multipart(SCREEN, {}, b"\x89PNG\r\n\x1a\nbroken")
    assert broken["decision"] is None and broken["problems"][0]["code"] == "INVALID_IMAGE"


# ------------------------------------------------------------------------------- enumeration safety

REGISTER = """mutation($input: RegisterPerformerInput!) { registerPerformer(input: $input) {
  performer { id verificationStatus } problems { code message field } } }"""
START = """mutation($ref: String!) { startOnboarding(input: {role: MARKETER, externalRef: $ref, ttlSeconds: 600}) {
  session { clientToken } problems { code } } }"""
SESSION = "{ onboardingSession { status role performer { id } } }"


async def test_a_client_cannot_tell_a_ban_from_any_other_refusal(client: httpx.AsyncClient) -> None:
    platform, listing = await make_platform(), await make_platform(scopes=WITH_JOINT)
    token, listing_token = await get_token(client, platform), await get_token(client, listing)
    banned_here, banned_jointly, taken = (resident_id(years_ago(30 + n)) for n in range(3))
    await data(client, token, ADD, input={"reason": "fraud", "scope": "PLATFORM", "document": doc(banned_here)})
    await data(client, listing_token, ADD, input={"reason": "x", "scope": "JOINT", "document": doc(banned_jointly)})
    await make_performer(platform.id, number=taken, external_ref="existing-account")

    async def as_client(ref: str, number: str) -> tuple[dict[str, Any], dict[str, Any]]:
        client_token = (await data(client, token, START, ref=ref))["session"]["clientToken"]
        registration = {"role": "MARKETER", "document": doc(number, fullName="张三"), "phone": "13800138000"}
        answer = await call(client, client_token, REGISTER, input=registration)
        return answer, await call(client, client_token, SESSION)

    answers = [await as_client(f"app-{n}", number) for n, number in enumerate((banned_here, banned_jointly, taken))]
    assert answers[0] == answers[1] == answers[2]
    registration, session = answers[0]
    assert registration == {"data": {"registerPerformer": {"performer": None, "problems": [
        {"code": "NOT_ELIGIBLE", "message": registration["data"]["registerPerformer"]["problems"][0]["message"],
         "field": None}]}}}  # fmt: skip
    assert session == {"data": {"onboardingSession": {"status": "OPEN", "role": "MARKETER", "performer": None}}}
    # The platform itself learns why.
    own = await call(client, token, REGISTER, input={"role": "MARKETER", "document": doc(banned_here, fullName="张三"),
                                                     "phone": "13800138000"})  # fmt: skip
    assert [p["code"] for p in own["data"]["registerPerformer"]["problems"]] == ["BLACKLISTED"]
