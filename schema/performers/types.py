from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.common.enums import GraphQLEnum
from schema.common.errors import not_implemented
from schema.common.types import Node, PageInfo, Problem

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


@strawberry.type
class Performer(Node):
    id: strawberry.ID
    external_ref: str | None = strawberry.field(description="unique per (platform, role)")
    role: PerformerRole
    full_name_masked: str = strawberry.field(description="e.g. 张*三")
    document_type: DocumentType
    document_number_masked: str = strawberry.field(description="e.g. 110***********123X")
    phone_masked: str = strawberry.field(description="e.g. +86 138****5678")
    age: int
    is_minor: bool
    guardian_consent: GuardianConsent | None = strawberry.field(description="the consent in force, if any")
    verification_status: VerificationStatus
    findings: list[Problem] = strawberry.field(description="why it is in REVIEW, REJECTED or EXPIRED")
    verified_at: datetime | None
    reverify_by: datetime | None = strawberry.field(description="identity must be re-verified before this instant")
    account_status: AccountStatus
    restrictions: list[Annotated[Enforcement, strawberry.lazy("schema.enforcement.types")]] = strawberry.field(
        description="enforcement in force now"
    )
    training_completed_at: datetime | None = strawberry.field(
        description="latest compliance training; needed before going live, yearly"
    )
    agency: Annotated[Agency, strawberry.lazy("schema.agencies.types")] | None = strawberry.field(
        description="the marketer service agency (MCN) the performer works through"
    )
    agreements: list[Annotated[Agreement, strawberry.lazy("schema.agencies.types")]] | None = strawberry.field(
        description="its agreements with agencies"
    )
    created_at: datetime
    updated_at: datetime

    @strawberry.field(description="avatars it is answerable for")
    def avatars(
        self, first: int | None = 20, after: str | None = strawberry.UNSET
    ) -> Annotated[AvatarConnection, strawberry.lazy("schema.avatars.types")] | None:
        raise not_implemented("Performer.avatars")


@strawberry.type
class PerformerEdge:
    node: Performer
    cursor: str


@strawberry.type
class PerformerConnection:
    edges: list[PerformerEdge]
    page_info: PageInfo


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
    id: strawberry.ID
    external_ref: str | None
    name: str
    credit_code: str
    address: str
    contact_phone: str
    legal_representative_name_masked: str
    verification_status: VerificationStatus
    findings: list[Problem]
    verified_at: datetime | None
    reverify_by: datetime | None
    account_status: AccountStatus
    restrictions: list[Annotated[Enforcement, strawberry.lazy("schema.enforcement.types")]]
    agreements: list[Annotated[Agreement, strawberry.lazy("schema.agencies.types")]] | None
    created_at: datetime
    updated_at: datetime

    @strawberry.field
    def avatars(
        self, first: int | None = 20, after: str | None = strawberry.UNSET
    ) -> Annotated[AvatarConnection, strawberry.lazy("schema.avatars.types")] | None:
        raise not_implemented("OperatorOrganization.avatars")


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
