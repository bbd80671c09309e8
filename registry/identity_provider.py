"""Real-name verification behind one interface: a checksum proves form, not identity.

`local` accepts what passes the document checks (development and tests). The http provider lives in
registry/identity_http.py; its answers may come later through a signed callback.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from registry.validators.documents import VerifiedDocument


class Verdict(StrEnum):
    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"
    MISMATCH = "MISMATCH"  # the provider says name and number do not belong together
    PENDING = "PENDING"  # no answer yet: a callback will bring it


@dataclass(frozen=True, slots=True)
class Answer:
    verdict: Verdict
    reference: str | None = None


class IdentityProvider(Protocol):
    async def check(self, subject_id: str, document: VerifiedDocument) -> Answer: ...


class LocalProvider:
    async def check(self, subject_id: str, document: VerifiedDocument) -> Answer:
        return Answer(Verdict.VERIFIED)
