from __future__ import annotations

import strawberry

from registry.enforcement import services as enforcement
from registry.enforcement.services import DocumentKey, KeysInput, ScreenAnswer
from registry.validators.documents import DocumentType
from schema.common.convert import actor, attempt, opt, problems_out
from schema.common.inputs import read_upload
from schema.common.nodes import register_node
from schema.enforcement.inputs import ScreeningInput
from schema.enforcement.types import (
    BlacklistEntry,
    BlacklistScope,
    Enforcement,
    MatchKey,
    ScreeningDecision,
    ScreeningMatch,
    ScreeningResult,
)
from schema.performers.inputs import IdentityKeyInput
from schema.permissions import needs


# The contract names no read scope for these types: a measure is read by whoever may act on it or read its
# subject (it is what Performer.restrictions shows); an entry by whoever may screen against it.
@register_node("enf", "Enforcement", "enforcement:write", "performers:read")
async def enforcement_node(info: strawberry.Info, node_id: str) -> Enforcement | None:
    record = await enforcement.get_enforcement(actor(info), node_id)
    return Enforcement.from_record(record) if record else None


@register_node("ble", "BlacklistEntry", "blacklist:read")
async def blacklist_entry_node(info: strawberry.Info, node_id: str) -> BlacklistEntry | None:
    record = await enforcement.get_entry(actor(info), node_id)
    return BlacklistEntry.from_record(record) if record else None


def document_key(doc: IdentityKeyInput | None) -> DocumentKey | None:
    if doc is None:
        return None
    return DocumentKey(
        type=DocumentType(str(doc.type)),
        number=doc.number,
        full_name=opt(doc.full_name),
        birth_date=opt(doc.birth_date),
        nationality=opt(doc.nationality),
    )


def _result(info: strawberry.Info, answer: ScreenAnswer) -> ScreeningResult:
    matches = [
        ScreeningMatch(
            key=MatchKey(m.key.value),
            scope=BlacklistScope(m.scope.value),
            score=m.score,
            entry_id=strawberry.ID(m.entry_id) if m.entry_id else None,
        )
        for m in answer.matches
    ]
    decision = ScreeningDecision(answer.decision.value) if answer.decision else None
    return ScreeningResult(decision=decision, matches=matches, problems=problems_out(info, answer.problems))


@strawberry.type
class EnforcementQueries:
    @strawberry.field(description="[blacklist:read]", permission_classes=[needs("blacklist:read")])
    async def screen(self, info: strawberry.Info, input: ScreeningInput) -> ScreeningResult | None:
        async def work() -> ScreenAnswer:
            data = KeysInput(
                document=document_key(opt(input.document)),
                credit_code=opt(input.credit_code),
                phone=opt(input.phone),
                device_id=opt(input.device_id),
                avatar_image=await read_upload(info, input.avatar_image, "input", "avatarImage"),
            )
            return await enforcement.screen(actor(info), data)

        answer, problems = await attempt(info, work)
        if answer is None:
            return ScreeningResult(decision=None, matches=[], problems=problems)
        return _result(info, answer)
