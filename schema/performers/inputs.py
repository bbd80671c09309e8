from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.file_uploads import Upload

from schema.performers.types import DocumentType, GuardianRelationship, PerformerRole, ReviewDecision


@strawberry.input(description="A full document, as an applicant presents it.")
class IdentityDocumentInput:
    type: DocumentType
    number: str
    full_name: str
    birth_date: date | None = strawberry.field(
        description="required where the number does not encode it; must agree where it does",
        default=strawberry.UNSET,
    )
    nationality: str | None = strawberry.field(
        description="ISO 3166-1 alpha-3; required for PASSPORT", default=strawberry.UNSET
    )
    mrz: str | None = strawberry.field(
        description="the two 44-character TD3 lines separated by a newline; required for PASSPORT",
        default=strawberry.UNSET,
    )
    expires_on: date | None = strawberry.field(
        description="an expired document is refused with DOCUMENT_EXPIRED", default=strawberry.UNSET
    )


@strawberry.input(
    description="""Only what identifies a document: for blacklist entries and screening (a regulator's notice
often carries no more than type and number)."""
)
class IdentityKeyInput:
    type: DocumentType
    number: str
    full_name: str | None = strawberry.field(default=strawberry.UNSET)
    birth_date: date | None = strawberry.field(default=strawberry.UNSET)
    nationality: str | None = strawberry.field(default=strawberry.UNSET)


@strawberry.input
class GuardianConsentInput:
    guardian: IdentityDocumentInput
    relationship: GuardianRelationship
    phone: str
    signed_at: datetime
    evidence: Upload | None = strawberry.field(
        description="scan or photo of the signed consent (image or PDF)", default=strawberry.UNSET
    )


@strawberry.input
class RegisterPerformerInput:
    role: PerformerRole = strawberry.field(
        description="with an onboarding client token it must equal the session's role"
    )
    document: IdentityDocumentInput
    phone: str = strawberry.field(description="mainland mobile or E.164")
    external_ref: str | None = strawberry.field(
        description="the platform's own account id; fixed by the session for client tokens",
        default=strawberry.UNSET,
    )
    device_id: str | None = strawberry.field(
        description="optional device fingerprint, screened against the blacklist", default=strawberry.UNSET
    )
    guardian_consent: GuardianConsentInput | None = strawberry.field(
        description="required for 16- and 17-year-olds", default=strawberry.UNSET
    )
    agency_id: strawberry.ID | None = strawberry.field(
        description="the agency (MCN) the performer works through, if any", default=strawberry.UNSET
    )


@strawberry.input(
    description="""The new document must belong to the same person (same identity key, or, for a renewed
passport, the same name and birth date: then REVIEW); anything else is IDENTITY_MISMATCH."""
)
class ReverifyPerformerInput:
    performer_id: strawberry.ID
    document: IdentityDocumentInput


@strawberry.input
class RecordGuardianConsentInput:
    performer_id: strawberry.ID
    consent: GuardianConsentInput


@strawberry.input
class RevokeGuardianConsentInput:
    performer_id: strawberry.ID
    reason: str


@strawberry.input
class RecordTrainingInput:
    performer_id: strawberry.ID
    completed_at: datetime
    course: str


@strawberry.input
class SetPerformerAgencyInput:
    performer_id: strawberry.ID
    agency_id: strawberry.ID | None = strawberry.field(description="null removes the link", default=strawberry.UNSET)


@strawberry.input(description="A room operator that is an organization rather than a natural person.")
class RegisterOperatorOrganizationInput:
    name: str
    credit_code: str = strawberry.field(description="unified social credit code")
    address: str
    contact_phone: str
    legal_representative: IdentityDocumentInput
    external_ref: str | None = strawberry.field(description="unique per platform", default=strawberry.UNSET)


@strawberry.input
class ReverifyOrganizationInput:
    organization_id: strawberry.ID = strawberry.field(description="an OperatorOrganization or an Agency")
    address: str | None = strawberry.field(default=strawberry.UNSET)
    contact_phone: str | None = strawberry.field(default=strawberry.UNSET)
    legal_representative: IdentityDocumentInput | None = strawberry.field(default=strawberry.UNSET)


@strawberry.input(
    description="""A compliance officer's decision on a record in REVIEW. An approval of a fuzzy screening
match is remembered: the same match does not send the same subject to REVIEW again."""
)
class DecideReviewInput:
    subject_id: strawberry.ID = strawberry.field(
        description="Performer, OperatorOrganization, Agency or Supplier in REVIEW"
    )
    decision: ReviewDecision
    reason: str
