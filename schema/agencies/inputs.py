from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.file_uploads import Upload

from schema.performers.inputs import IdentityDocumentInput


@strawberry.input
class RegisterAgencyInput:
    name: str
    credit_code: str
    address: str
    contact_phone: str
    legal_representative: IdentityDocumentInput | None = strawberry.field(default=strawberry.UNSET)
    external_ref: str | None = strawberry.field(description="unique per platform", default=strawberry.UNSET)


@strawberry.input(
    description="""The written cooperation agreement between an agency and a room operator or marketer.
Complete when not expired or terminated and it covers: for a MARKETER, the three duties of
the 2021 measures (Art 24); for a room operator (person or organization), also the
marketer-management and content-management duties of the 2025 measures (Art 43)."""
)
class RecordAgreementInput:
    agency_id: strawberry.ID
    party_id: strawberry.ID = strawberry.field(description="Performer or OperatorOrganization")
    signed_at: datetime
    information_security: bool = strawberry.field(description="information security management duties")
    commodity_quality_audit: bool = strawberry.field(description="commodity quality audit duties")
    consumer_protection: bool = strawberry.field(description="consumer rights protection duties")
    valid_until: date | None = strawberry.field(default=strawberry.UNSET)
    marketer_management: bool = strawberry.field(default=False)
    content_management: bool = strawberry.field(default=False)
    document: Upload | None = strawberry.field(
        description="the signed agreement (PDF or image)", default=strawberry.UNSET
    )


@strawberry.input
class TerminateAgreementInput:
    agreement_id: strawberry.ID
    reason: str
