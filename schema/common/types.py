from __future__ import annotations

import strawberry

from schema.common.enums import GraphQLEnum


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.enum
class ProblemCode(GraphQLEnum):
    INVALID_INPUT = strawberry.enum_value(
        "INVALID_INPUT",
        description="malformed value (format, length, range, unknown country, duplicate row ...)",
    )
    LIMIT_EXCEEDED = strawberry.enum_value(
        "LIMIT_EXCEEDED", description="too many rows, too large a distance, too long a value"
    )
    INVALID_DOCUMENT = strawberry.enum_value(
        "INVALID_DOCUMENT", description="identity document fails its format, checksum, date or MRZ checks"
    )
    DOCUMENT_EXPIRED = strawberry.enum_value(
        "DOCUMENT_EXPIRED", description="the identity document's validity has ended"
    )
    IDENTITY_MISMATCH = strawberry.enum_value(
        "IDENTITY_MISMATCH",
        description="the document does not belong to the same person, or the identity provider says name and number do not match",
    )
    UNDER_MINIMUM_AGE = strawberry.enum_value(
        "UNDER_MINIMUM_AGE",
        description="has not reached the platform's minimum age (16 by law, a platform may set up to 18)",
    )
    GUARDIAN_CONSENT_REQUIRED = strawberry.enum_value(
        "GUARDIAN_CONSENT_REQUIRED", description="16 or 17 years old and no valid guardian consent given"
    )
    GUARDIAN_NOT_ELIGIBLE = strawberry.enum_value(
        "GUARDIAN_NOT_ELIGIBLE", description="guardian invalid, a minor, or the same person as the applicant"
    )
    BLACKLISTED = strawberry.enum_value("BLACKLISTED", description="an identity key matches an active blacklist entry")
    ALREADY_REGISTERED = strawberry.enum_value(
        "ALREADY_REGISTERED",
        description="this identity already has a performer of this role on this platform, or this credit code already has an organization or agency here",
    )
    DUPLICATE_EXTERNAL_REF = strawberry.enum_value(
        "DUPLICATE_EXTERNAL_REF", description="the externalRef is already used by a different record"
    )
    NOT_ELIGIBLE = strawberry.enum_value(
        "NOT_ELIGIBLE",
        description="what an onboarding client token is told instead of BLACKLISTED or ALREADY_REGISTERED: the applicant never learns which; the platform does",
    )
    NOT_FOUND = "NOT_FOUND"
    OPERATOR_NOT_ELIGIBLE = strawberry.enum_value(
        "OPERATOR_NOT_ELIGIBLE", description="responsible operator not in good standing (see DESIGN)"
    )
    DRIVER_NOT_ELIGIBLE = strawberry.enum_value(
        "DRIVER_NOT_ELIGIBLE",
        description="a driver must be a verified adult MARKETER of the same platform in good standing",
    )
    RIGHTS_HOLDER_NOT_ELIGIBLE = strawberry.enum_value(
        "RIGHTS_HOLDER_NOT_ELIGIBLE",
        description="the likeness rights holder's document is invalid, or a minor",
    )
    AGENCY_NOT_ELIGIBLE = strawberry.enum_value(
        "AGENCY_NOT_ELIGIBLE",
        description="the agency is not verified, or suspended, cancelled or blacklisted",
    )
    AVATAR_CONFLICT = strawberry.enum_value(
        "AVATAR_CONFLICT", description="image is a near-duplicate of an avatar answerable to another identity"
    )
    LIKENESS_CONSENT_REQUIRED = strawberry.enum_value(
        "LIKENESS_CONSENT_REQUIRED",
        description="avatar reproduces a real person without that person's consent on record",
    )
    INVALID_IMAGE = strawberry.enum_value(
        "INVALID_IMAGE", description="not a supported image, corrupt, too large, or a decompression bomb"
    )
    INVALID_CREDIT_CODE = strawberry.enum_value(
        "INVALID_CREDIT_CODE", description="unified social credit code fails format or checksum"
    )
    LICENSE_REQUIRED = strawberry.enum_value(
        "LICENSE_REQUIRED", description="a product category needs a license that is missing"
    )
    LICENSE_EXPIRED = "LICENSE_EXPIRED"
    INVALID_TRANSITION = strawberry.enum_value(
        "INVALID_TRANSITION", description="the requested status change is not allowed from the current state"
    )


@strawberry.type
class Problem:
    code: ProblemCode
    message: str = strawberry.field(description="plain sentence, safe to show to the applicant")
    field: list[str] | None = strawberry.field(
        description="""path into the input, e.g. ["input", "document", "number"] or ["input", "rows", "3", "creditCode"]"""
    )
