from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from registry.pagination import Page
from registry.performers import models
from registry.performers import services as performers
from registry.verification import effective_status, findings_as_problems
from schema.common.convert import client_forbidden, connection, opt, problems_out
from schema.common.enums import GraphQLEnum
from schema.common.types import Node, PageInfo, Problem
from schema.enforcement.standing import account_status_of, restrictions_of
from schema.performers.loaders import consents_in_force

if TYPE_CHECKING:
    from schema.agencies.types import Agency, Agreement
    from schema.avatars.types import AvatarConnection
    from schema.enforcement.types import Enforcement


@strawberry.enum
class DocumentType(GraphQLEnum):
    RESIDENT_ID_CARD = strawberry.enum_value(
        "RESIDENT_ID_CARD",
        description="PRC resident identity card, 18 chars. A legacy 15-digit number is refused for onboarding (first-generation cards expired in 2013: DOCUMENT_EXPIRED) but is accepted in blacklist entries and screening, in its 18-digit form",
    )
    HMT_RESIDENCE_PERMIT = strawberry.enum_value(
        "HMT_RESIDENCE_PERMIT",
        description="residence permit for Hong Kong, Macao and Taiwan residents (18 chars)",
    )
    HKMO_TRAVEL_PERMIT = strawberry.enum_value(
        "HKMO_TRAVEL_PERMIT", description="mainland travel permit for Hong Kong and Macao residents"
    )
    TW_TRAVEL_PERMIT = strawberry.enum_value(
        "TW_TRAVEL_PERMIT", description="mainland travel permit for Taiwan residents"
    )
    FOREIGN_PERMANENT_RESIDENT = strawberry.enum_value(
        "FOREIGN_PERMANENT_RESIDENT",
        description="foreign permanent resident ID card (2023 18-digit or legacy 15-char)",
    )
    PASSPORT = strawberry.enum_value(
        "PASSPORT", description="foreign passport, checked through its ICAO 9303 TD3 machine-readable zone"
    )


@strawberry.enum
class VerificationStatus(GraphQLEnum):
    PENDING = strawberry.enum_value("PENDING", description="submitted; the identity provider has not answered yet")
    VERIFIED = "VERIFIED"
    REVIEW = strawberry.enum_value("REVIEW", description="needs a human decision (decideReview); `findings` say why")
    REJECTED = "REJECTED"
    EXPIRED = strawberry.enum_value("EXPIRED", description="was verified; the six-monthly re-verification is overdue")


@strawberry.enum
class AccountStatus(GraphQLEnum):
    ACTIVE = "ACTIVE"
    WARNED = "WARNED"
    LIMITED = strawberry.enum_value("LIMITED", description="functions or traffic limited")
    SUSPENDED = strawberry.enum_value("SUSPENDED", description="live publishing suspended")
    CANCELLED = strawberry.enum_value("CANCELLED", description="account cancelled (final)")


@strawberry.enum
class PerformerRole(GraphQLEnum):
    ROOM_OPERATOR = strawberry.enum_value("ROOM_OPERATOR", description="natural person who runs a live room")
    MARKETER = strawberry.enum_value(
        "MARKETER", description="""natural person who markets to the public on camera (the "salesperson")"""
    )


@strawberry.enum
class GuardianRelationship(GraphQLEnum):
    PARENT = "PARENT"
    LEGAL_GUARDIAN = "LEGAL_GUARDIAN"


@strawberry.type
class GuardianConsent:
    id: strawberry.ID
    relationship: GuardianRelationship
    guardian_name_masked: str
    guardian_verification_status: VerificationStatus
    signed_at: datetime
    recorded_at: datetime
    revoked_at: datetime | None
    has_evidence: bool

    @classmethod
    def from_record(cls, record: models.GuardianConsent) -> GuardianConsent:
        return cls(
            id=strawberry.ID(record.id),
            relationship=GuardianRelationship(record.relationship),
            guardian_name_masked=record.guardian_name_masked,
            guardian_verification_status=VerificationStatus(record.guardian_verification_status),
            signed_at=record.signed_at,
            recorded_at=record.recorded_at,
            revoked_at=record.revoked_at,
            has_evidence=record.evidence_sha256 is not None,
        )


@strawberry.type
class Performer(Node):
    record: strawberry.Private[models.Performer]
    id: strawberry.ID
    external_ref: str | None = strawberry.field(description="unique per (platform, role)")
    role: PerformerRole
    full_name_masked: str = strawberry.field(description="e.g. 张*三")
    document_type: DocumentType
    document_number_masked: str = strawberry.field(description="e.g. 110***********123X")
    phone_masked: str = strawberry.field(description="e.g. +86 138****5678")
    verified_at: datetime | None
    reverify_by: datetime | None = strawberry.field(description="identity must be re-verified before this instant")
    training_completed_at: datetime | None = strawberry.field(
        description="latest compliance training; needed before going live, yearly"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: models.Performer) -> Performer:
        return cls(
            record=record,
            id=strawberry.ID(record.id),
            external_ref=record.external_ref,
            role=PerformerRole(record.role),
            full_name_masked=record.name_masked,
            document_type=DocumentType(record.document_type),
            document_number_masked=record.number_masked,
            phone_masked=record.phone_masked,
            verified_at=record.verified_at,
            reverify_by=record.reverify_by,
            training_completed_at=record.training_completed_at,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )

    @strawberry.field
    def age(self) -> int:
        return performers.age_of(self.record)

    @strawberry.field
    def is_minor(self) -> bool:
        return performers.age_of(self.record) < performers.ADULT

    @strawberry.field(description="the consent in force, if any")
    async def guardian_consent(self, info: strawberry.Info) -> GuardianConsent | None:
        consent = await consents_in_force(info).load(self.record.id)
        return GuardianConsent.from_record(consent) if consent else None

    @strawberry.field
    def verification_status(self) -> VerificationStatus:
        return VerificationStatus(performers.status_of(self.record).value)

    @strawberry.field(description="why it is in REVIEW, REJECTED or EXPIRED")
    def findings(self, info: strawberry.Info) -> list[Problem]:
        return problems_out(info, findings_as_problems(self.record.findings))

    @strawberry.field
    async def account_status(self, info: strawberry.Info) -> AccountStatus:
        return AccountStatus(await account_status_of(info, self.record.id))

    @strawberry.field(description="enforcement in force now")
    async def restrictions(
        self, info: strawberry.Info
    ) -> list[Annotated[Enforcement, strawberry.lazy("schema.enforcement.types")]]:
        client_forbidden(info)
        return await restrictions_of(info, self.record.id)

    @strawberry.field(description="the marketer service agency (MCN) the performer works through")
    async def agency(self, info: strawberry.Info) -> Annotated[Agency, strawberry.lazy("schema.agencies.types")] | None:
        from schema.agencies.types import Agency

        client_forbidden(info)
        return await Agency.load(info, self.record.agency_id) if self.record.agency_id else None

    @strawberry.field(description="its agreements with agencies")
    async def agreements(
        self, info: strawberry.Info
    ) -> list[Annotated[Agreement, strawberry.lazy("schema.agencies.types")]] | None:
        from schema.agencies.types import Agreement

        client_forbidden(info)
        return await Agreement.of_party(info, self.record.id)

    @strawberry.field(description="avatars it is answerable for")
    async def avatars(
        self, info: strawberry.Info, first: int | None = 20, after: str | None = strawberry.UNSET
    ) -> Annotated[AvatarConnection, strawberry.lazy("schema.avatars.types")] | None:
        from schema.avatars.types import AvatarConnection

        return await AvatarConnection.of_operator(info, self.record.id, first=first, after=opt(after))


@strawberry.type
class PerformerEdge:
    node: Performer
    cursor: str


@strawberry.type
class PerformerConnection:
    edges: list[PerformerEdge]
    page_info: PageInfo

    @classmethod
    def from_page(cls, found: Page[models.Performer]) -> PerformerConnection:
        return connection(found, Performer.from_record, PerformerEdge, cls)


@strawberry.type
class RegisterPerformerPayload:
    performer: Performer | None = strawberry.field(description="null when a problem prevented registration")
    problems: list[Problem]


@strawberry.type
class ReverifyPerformerPayload:
    performer: Performer | None
    problems: list[Problem]


@strawberry.type
class RecordGuardianConsentPayload:
    performer: Performer | None
    problems: list[Problem]


@strawberry.type
class RevokeGuardianConsentPayload:
    performer: Performer | None
    problems: list[Problem]


@strawberry.type
class RecordTrainingPayload:
    performer: Performer | None
    problems: list[Problem]


@strawberry.type
class SetPerformerAgencyPayload:
    performer: Performer | None
    problems: list[Problem]


@strawberry.type
class OperatorOrganization(Node):
    record: strawberry.Private[models.OperatorOrganization]
    id: strawberry.ID
    external_ref: str | None
    name: str
    credit_code: str
    address: str
    contact_phone: str
    legal_representative_name_masked: str
    verified_at: datetime | None
    reverify_by: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: models.OperatorOrganization) -> OperatorOrganization:
        return cls(
            record=record,
            id=strawberry.ID(record.id),
            external_ref=record.external_ref,
            name=record.name,
            credit_code=record.credit_code,
            address=record.address,
            contact_phone=record.contact_phone,
            legal_representative_name_masked=record.representative_name_masked,
            verified_at=record.verified_at,
            reverify_by=record.reverify_by,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )

    @strawberry.field
    def verification_status(self) -> VerificationStatus:
        record = self.record
        return VerificationStatus(effective_status(record.verification_status, reverify_by=record.reverify_by).value)

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
    async def agreements(
        self, info: strawberry.Info
    ) -> list[Annotated[Agreement, strawberry.lazy("schema.agencies.types")]] | None:
        from schema.agencies.types import Agreement

        return await Agreement.of_party(info, self.record.id)

    @strawberry.field
    async def avatars(
        self, info: strawberry.Info, first: int | None = 20, after: str | None = strawberry.UNSET
    ) -> Annotated[AvatarConnection, strawberry.lazy("schema.avatars.types")] | None:
        from schema.avatars.types import AvatarConnection

        return await AvatarConnection.of_operator(info, self.record.id, first=first, after=opt(after))


@strawberry.type
class RegisterOperatorOrganizationPayload:
    organization: OperatorOrganization | None
    problems: list[Problem]


@strawberry.type
class ReverifyOrganizationPayload:
    organization: Node | None
    problems: list[Problem]


ResponsibleOperator = Annotated[Performer | OperatorOrganization, strawberry.union("ResponsibleOperator")]


@strawberry.enum(
    description="""Dynamic verification: asked right before each live session. Age, consent, training,
measures and blacklist are evaluated at the moment of the call."""
)
class EligibilityReason(GraphQLEnum):
    NOT_VERIFIED = "NOT_VERIFIED"
    VERIFICATION_EXPIRED = strawberry.enum_value(
        "VERIFICATION_EXPIRED", description="the six-monthly re-verification is overdue"
    )
    UNDER_MINIMUM_AGE = strawberry.enum_value(
        "UNDER_MINIMUM_AGE", description="below the platform's (possibly raised) minimum age"
    )
    GUARDIAN_CONSENT_MISSING = strawberry.enum_value(
        "GUARDIAN_CONSENT_MISSING", description="a minor whose consent was revoked or has lapsed"
    )
    TRAINING_MISSING = strawberry.enum_value(
        "TRAINING_MISSING", description="no compliance training completed in the last 365 days"
    )
    AGENCY_AGREEMENT_MISSING = strawberry.enum_value(
        "AGENCY_AGREEMENT_MISSING", description="works through an agency without a complete written agreement"
    )
    AGENCY_NOT_ELIGIBLE = strawberry.enum_value(
        "AGENCY_NOT_ELIGIBLE", description="that agency is not in good standing"
    )
    FUNCTION_LIMITED = strawberry.enum_value(
        "FUNCTION_LIMITED", description="LIMIT_FUNCTIONS in force (WARN and LIMIT_TRAFFIC do not block)"
    )
    ACCOUNT_SUSPENDED = "ACCOUNT_SUSPENDED"
    ACCOUNT_CANCELLED = "ACCOUNT_CANCELLED"
    BLACKLISTED = "BLACKLISTED"
    AVATAR_NOT_FOUND = "AVATAR_NOT_FOUND"
    AVATAR_NOT_ACTIVE = "AVATAR_NOT_ACTIVE"
    AVATAR_DRIVER_NOT_AUTHORIZED = strawberry.enum_value(
        "AVATAR_DRIVER_NOT_AUTHORIZED", description="the performer is not an authorized driver of that avatar"
    )
    AVATAR_OPERATOR_NOT_ELIGIBLE = strawberry.enum_value(
        "AVATAR_OPERATOR_NOT_ELIGIBLE",
        description="the avatar's responsible operator is not in good standing",
    )


@strawberry.type
class LiveEligibility:
    allowed: bool
    reasons: list[EligibilityReason] = strawberry.field(description="every failing reason; empty when allowed")
    checked_at: datetime


@strawberry.enum
class ReviewDecision(GraphQLEnum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"


@strawberry.type
class DecideReviewPayload:
    subject: Node | None
    problems: list[Problem]
