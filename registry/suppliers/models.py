from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from registry.rotation import encrypted


# The actual seller of goods or services sold live. Name, address and contact are shown to consumers
# by law: kept in clear for companies, encrypted (the clear columns NULL) for a natural person, whose
# document is encrypted too. `content_hash` (a keyed blind index of the normalized content) lets a
# re-sent import row count as unchanged. `verification_status` and `findings` are what screening and
# decideReview decided; license compliance is judged when reading, from `licenses_missing` and
# `license_expires_on` (the earliest validUntil), so an expiry needs no write and filters in SQL.
# `categories` is "|"-wrapped ("|FOOD|GENERAL|") so a LIKE finds one category on every backend.
@encrypted("document_number_enc", "full_name_enc", "birth_date_enc", "name_enc", "address_enc", "contact_phone_enc")
class Supplier(Model):
    id = fields.CharField(primary_key=True, max_length=32)
    platform_id = fields.CharField(max_length=32)
    external_ref = fields.CharField(max_length=128)
    kind = fields.CharField(max_length=24)
    name = fields.CharField(max_length=200, null=True)
    name_enc = fields.TextField(null=True)
    credit_code = fields.CharField(max_length=18, null=True)
    document_type = fields.CharField(max_length=32, null=True)
    document_number_enc = fields.TextField(null=True)
    full_name_enc = fields.TextField(null=True)
    birth_date_enc = fields.TextField(null=True)
    document_masked = fields.CharField(max_length=40, null=True)
    address = fields.CharField(max_length=300, null=True)
    address_enc = fields.TextField(null=True)
    contact_phone = fields.CharField(max_length=20, null=True)
    contact_phone_enc = fields.TextField(null=True)
    categories = fields.CharField(max_length=120)
    licenses = fields.JSONField(default=list)
    licenses_missing = fields.BooleanField(default=False)
    license_expires_on = fields.DateField(null=True)
    verification_status = fields.CharField(max_length=12)
    findings = fields.JSONField(default=list)
    content_hash = fields.CharField(max_length=80)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "supplier"
        unique_together = (("platform_id", "external_ref"),)
        indexes = (("platform_id", "created_at"), ("platform_id", "verification_status"))
