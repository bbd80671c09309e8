from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from registry.rotation import encrypted


# A marketer service agency (MCN), identified by its unified social credit code.
@encrypted("representative_number_enc", "representative_name_enc")
class Agency(Model):
    id = fields.CharField(primary_key=True, max_length=32)
    platform_id = fields.CharField(max_length=32)
    external_ref = fields.CharField(max_length=128, null=True)
    name = fields.CharField(max_length=200)
    credit_code = fields.CharField(max_length=18)
    address = fields.CharField(max_length=300)
    contact_phone = fields.CharField(max_length=20)
    representative_document_type = fields.CharField(max_length=32, null=True)
    representative_number_enc = fields.TextField(null=True)
    representative_name_enc = fields.TextField(null=True)
    representative_name_masked = fields.CharField(max_length=120, null=True)
    representative_person_id = fields.CharField(max_length=32, null=True)
    verification_status = fields.CharField(max_length=12)
    findings = fields.JSONField(default=list)
    verified_at = fields.DatetimeField(null=True)
    reverify_by = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "agency"
        unique_together = (("platform_id", "credit_code"), ("platform_id", "external_ref"))


# The written cooperation agreement between an agency and a performer or operator organization.
# A later agreement between the same two parties supersedes the earlier one (superseded_at).
# party_role is the party's role when it signed (MARKETER, or ROOM_OPERATOR for room-operator
# performers and operator organizations): it decides which duties make the agreement complete.
class Agreement(Model):
    id = fields.CharField(primary_key=True, max_length=32)
    platform_id = fields.CharField(max_length=32)
    agency_id = fields.CharField(max_length=32)
    party_id = fields.CharField(max_length=32)
    party_role = fields.CharField(max_length=16)
    signed_at = fields.DatetimeField()
    valid_until = fields.DateField(null=True)
    information_security = fields.BooleanField()
    commodity_quality_audit = fields.BooleanField()
    consumer_protection = fields.BooleanField()
    marketer_management = fields.BooleanField(default=False)
    content_management = fields.BooleanField(default=False)
    document_sha256 = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    terminated_at = fields.DatetimeField(null=True)
    terminate_reason = fields.TextField(null=True)
    superseded_at = fields.DatetimeField(null=True)

    class Meta:
        table = "agreement"
        indexes = (("agency_id", "party_id"), ("party_id",))
