from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from registry.rotation import encrypted


# The actual seller of goods or services sold live. Name, address and contact are shown to consumers
# by law and kept in clear; a natural person's document is encrypted. `content_hash` lets a re-sent
# import row count as unchanged. Status is stored as screened; license expiry is judged at read time.
@encrypted("document_number_enc", "full_name_enc", "birth_date_enc")
class Supplier(Model):
    id = fields.CharField(primary_key=True, max_length=32)
    platform_id = fields.CharField(max_length=32)
    external_ref = fields.CharField(max_length=128)
    kind = fields.CharField(max_length=24)
    name = fields.CharField(max_length=200)
    credit_code = fields.CharField(max_length=18, null=True)
    document_type = fields.CharField(max_length=32, null=True)
    document_number_enc = fields.TextField(null=True)
    full_name_enc = fields.TextField(null=True)
    birth_date_enc = fields.TextField(null=True)
    document_masked = fields.CharField(max_length=40, null=True)
    address = fields.CharField(max_length=300)
    contact_phone = fields.CharField(max_length=20)
    categories = fields.JSONField(default=list)
    licenses = fields.JSONField(default=list)
    verification_status = fields.CharField(max_length=12)
    findings = fields.JSONField(default=list)
    content_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "supplier"
        unique_together = (("platform_id", "external_ref"),)
        indexes = (("platform_id", "created_at"), ("platform_id", "verification_status"))
