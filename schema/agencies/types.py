from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from registry.agencies import agreements, models
from registry.agencies import services as agencies
from registry.performers.models import Performer as PerformerRecord
from registry.verification import findings_as_problems
from schema.agencies.loaders import agencies_by_id, agreements_of_agency, agreements_of_party, parties_by_id
from schema.common.convert import problems_out
from schema.common.errors import CodedError
from schema.common.types import Node, Problem
from schema.enforcement.standing import account_status_of, restrictions_of
from schema.performers.types import AccountStatus, OperatorOrganization, Performer, VerificationStatus
from schema.permissions import needs

if TYPE_CHECKING:
    from schema.enforcement.types import Enforcement
    from schema.performers.types import ResponsibleOperator


@strawberry.type
class Agency(Node):
    record: strawberry.Private[models.Agency]
    id: strawberry.ID
    external_ref: str | None
    name: str
    credit_code: str
    address: str
    contact_phone: str
    verified_at: datetime | None
    reverify_by: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: models.Agency) -> Agency:
        return cls(
            record=record,
            id=strawberry.ID(record.id),
            external_ref=record.external_ref,
            name=record.name,
            credit_code=record.credit_code,
            address=record.address,
            contact_phone=record.contact_phone,
            verified_at=record.verified_at,
            reverify_by=record.reverify_by,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )

    @classmethod
    async def load(cls, info: strawberry.Info, agency_id: str) -> Agency | None:
        record = await agencies_by_id(info).load(agency_id)
        return cls.from_record(record) if record else None

    @strawberry.field
    def verification_status(self) -> VerificationStatus:
        return VerificationStatus(agencies.status_of(self.record).value)

    @strawberry.field
    def findings(self, info: strawberry.Info) -> list[Problem]:
        return problems_out(info, findings_as_problems(self.record.findings))

    @strawberry.field
    async def account_status(self, info: strawberry.Info) -> AccountStatus:
        return AccountStatus(await account_status_of(info, self.record.id))

    @strawberry.field
    async def restrictions(
        self, info: strawberry.Info
    ) -> list[Annotated[Enforcement, strawberry.lazy("schema.enforcement.types")]]:
        return await restrictions_of(info, self.record.id)

    @strawberry.field
    async def agreements(self, info: strawberry.Info) -> list[Agreement] | None:
        return [Agreement.from_record(a) for a in await agreements_of_agency(info).load(self.record.id)]


@strawberry.type
class RegisterAgencyPayload:
    agency: Agency | None
    problems: list[Problem]


@strawberry.type
class Agreement(Node):
    record: strawberry.Private[models.Agreement]
    id: strawberry.ID
    signed_at: datetime
    valid_until: date | None
    information_security: bool
    commodity_quality_audit: bool
    consumer_protection: bool
    marketer_management: bool
    content_management: bool
    document_sha256: str | None
    created_at: datetime
    terminated_at: datetime | None

    @classmethod
    def from_record(cls, record: models.Agreement) -> Agreement:
        return cls(
            record=record,
            id=strawberry.ID(record.id),
            signed_at=record.signed_at,
            valid_until=record.valid_until,
            information_security=record.information_security,
            commodity_quality_audit=record.commodity_quality_audit,
            consumer_protection=record.consumer_protection,
            marketer_management=record.marketer_management,
            content_management=record.content_management,
            document_sha256=record.document_sha256,
            created_at=record.created_at,
            terminated_at=record.terminated_at,
        )

    @classmethod
    async def of_party(cls, info: strawberry.Info, party_id: str) -> list[Agreement]:
        return [cls.from_record(a) for a in await agreements_of_party(info).load(party_id)]

    @strawberry.field
    async def agency(self, info: strawberry.Info) -> Agency:
        agency = await Agency.load(info, self.record.agency_id)
        if agency is None:  # an agreement and its agency share the platform; only a foreign reader gets here
            raise CodedError("The agreement's agency cannot be read with this token.", "FORBIDDEN")
        return agency

    @strawberry.field(permission_classes=[needs("performers:read")])
    async def party(
        self, info: strawberry.Info
    ) -> Annotated[ResponsibleOperator, strawberry.lazy("schema.performers.types")] | None:
        party = await parties_by_id(info).load(self.record.party_id)
        if party is None:
            return None
        # An explicit cast: the sorted schema rebuilds its types, so identity-based union resolution fails.
        if isinstance(party, PerformerRecord):
            return strawberry.cast(Performer, Performer.from_record(party))
        return strawberry.cast(OperatorOrganization, OperatorOrganization.from_record(party))

    @strawberry.field
    def complete(self) -> bool:
        # False once superseded too: only the agreement in force can make its party eligible.
        return agreements.is_complete(self.record)


@strawberry.type
class RecordAgreementPayload:
    agreement: Agreement | None
    problems: list[Problem]


@strawberry.type
class TerminateAgreementPayload:
    agreement: Agreement | None
    problems: list[Problem]
