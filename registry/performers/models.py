from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from registry.rotation import encrypted


# A natural person in one role on one platform. Personal values are AES-GCM ciphertexts (`*_enc`);
# lookups go through blind indexes; answers are masked.
@encrypted("document_number_enc", "full_name_enc", "birth_date_enc", "phone_enc")
class Performer(Model):
    id = fields.CharField(primary_key=True, max_length=32)
    platform_id = fields.CharField(max_length=32)
    role = fields.CharField(max_length=16)
    external_ref = fields.CharField(max_length=128, null=True)
    person_id = fields.CharField(max_length=32)
    document_type = fields.CharField(max_length=32)
    document_number_enc = fields.TextField()
    full_name_enc = fields.TextField()
    birth_date_enc = fields.TextField()
    phone_enc = fields.TextField()
    name_masked = fields.CharField(max_length=120)
    number_masked = fields.CharField(max_length=40)
    phone_masked = fields.CharField(max_length=40)
    verification_status = fields.CharField(max_length=12)
    findings = fields.JSONField(default=list)
    verified_at = fields.DatetimeField(null=True)
    reverify_by = fields.DatetimeField(null=True)
    pending_since = fields.DatetimeField(null=True)
    training_completed_at = fields.DatetimeField(null=True)
    agency_id = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "performer"
        # Settles ALREADY_REGISTERED and DUPLICATE_EXTERNAL_REF under concurrency.
        unique_together = (("platform_id", "role", "person_id"), ("platform_id", "role", "external_ref"))
        indexes = (("platform_id", "created_at"),)


# The guardian's consent for a 16- or 17-year-old; the newest unrevoked one is in force.
@encrypted("guardian_number_enc", "guardian_name_enc", "guardian_birth_date_enc", "phone_enc")
class GuardianConsent(Model):
    id = fields.CharField(primary_key=True, max_length=32)
    performer_id = fields.CharField(max_length=32, db_index=True)
    platform_id = fields.CharField(max_length=32)
    relationship = fields.CharField(max_length=16)
    guardian_document_type = fields.CharField(max_length=32)
    guardian_number_enc = fields.TextField()
    guardian_name_enc = fields.TextField()
    guardian_birth_date_enc = fields.TextField()
    guardian_name_masked = fields.CharField(max_length=120)
    guardian_person_id = fields.CharField(max_length=32)
    guardian_verification_status = fields.CharField(max_length=12)
    phone_enc = fields.TextField()
    signed_at = fields.DatetimeField()
    recorded_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)
    revoke_reason = fields.TextField(null=True)
    evidence_sha256 = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "guardian_consent"


# An under-age applicant refused registration: only a keyed hash, to notice repeated attempts.
class RefusedAttempt(Model):
    id = fields.BigIntField(primary_key=True)
    platform_id = fields.CharField(max_length=32)
    document_index = fields.CharField(max_length=80, db_index=True)
    reason = fields.CharField(max_length=32)
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "refused_attempt"


# A room operator that is a company: identified by its unified social credit code.
@encrypted("representative_number_enc", "representative_name_enc")
class OperatorOrganization(Model):
    id = fields.CharField(primary_key=True, max_length=32)
    platform_id = fields.CharField(max_length=32)
    external_ref = fields.CharField(max_length=128, null=True)
    name = fields.CharField(max_length=200)
    credit_code = fields.CharField(max_length=18)
    address = fields.CharField(max_length=300)
    contact_phone = fields.CharField(max_length=20)
    representative_document_type = fields.CharField(max_length=32)
    representative_number_enc = fields.TextField()
    representative_name_enc = fields.TextField()
    representative_name_masked = fields.CharField(max_length=120)
    representative_person_id = fields.CharField(max_length=32)
    verification_status = fields.CharField(max_length=12)
    findings = fields.JSONField(default=list)
    verified_at = fields.DatetimeField(null=True)
    reverify_by = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "operator_organization"
        unique_together = (("platform_id", "credit_code"), ("platform_id", "external_ref"))
        indexes = (("platform_id", "created_at"),)
