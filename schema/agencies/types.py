from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.common.errors import not_implemented
from schema.common.types import Node, Problem
from schema.performers.types import AccountStatus, VerificationStatus

if TYPE_CHECKING:
    from schema.enforcement.types import Enforcement
    from schema.performers.types import ResponsibleOperator


@strawberry.type
class Agency(Node):
    id: strawberry.ID
    external_ref: str | None
    name: str
    credit_code: str
    address: str
    contact_phone: str
    verification_status: VerificationStatus
    findings: list[Problem]
    verified_at: datetime | None
    reverify_by: datetime | None
    account_status: AccountStatus
    restrictions: list[Annotated[Enforcement, strawberry.lazy("schema.enforcement.types")]]
    agreements: list[Agreement] | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    async def load(cls, info: strawberry.Info, agency_id: str) -> Agency | None:
        raise not_implemented("Agency")


@strawberry.type
class RegisterAgencyPayload:
    agency: Agency | None
    problems: list[Problem]


@strawberry.type
class Agreement(Node):
    id: strawberry.ID
    agency: Agency
    party: Annotated[ResponsibleOperator, strawberry.lazy("schema.performers.types")] | None
    signed_at: datetime
    valid_until: date | None
    information_security: bool
    commodity_quality_audit: bool
    consumer_protection: bool
    marketer_management: bool
    content_management: bool
    complete: bool
    document_sha256: str | None
    created_at: datetime
    terminated_at: datetime | None

    @classmethod
    async def of_party(cls, info: strawberry.Info, party_id: str) -> list[Agreement]:
        raise not_implemented("Agreement")


@strawberry.type
class RecordAgreementPayload:
    agreement: Agreement | None
    problems: list[Problem]


@strawberry.type
class TerminateAgreementPayload:
    agreement: Agreement | None
    problems: list[Problem]
