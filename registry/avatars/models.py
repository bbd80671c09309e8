from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from registry.rotation import encrypted


# A virtual online image, answerable to exactly one verified responsible operator. `identity` is the
# operator's identity across platforms (person:<id> or credit:<blind index>) for AVATAR_CONFLICT.
# The perceptual hash is stored whole and as four 16-bit bands (multi-index hashing). Each band has a
# composite index (band, phash): the near-duplicate lookup is an index-only scan that filters the exact
# distance inside the index (registry.avatars.similarity). Without `id` the four indexes are half the
# size (30 MB each at 1M rows), which keeps them in the buffer cache.
class Avatar(Model):
    id = fields.CharField(primary_key=True, max_length=32)
    platform_id = fields.CharField(max_length=32)
    external_ref = fields.CharField(max_length=128, null=True)
    name = fields.CharField(max_length=100)
    kind = fields.CharField(max_length=24)
    label = fields.CharField(max_length=20)
    status = fields.CharField(max_length=12)
    operator_id = fields.CharField(max_length=32, db_index=True)
    identity = fields.CharField(max_length=100)
    image_sha256 = fields.CharField(max_length=64)
    content_type = fields.CharField(max_length=20)
    width = fields.IntField()
    height = fields.IntField()
    phash = fields.BigIntField()
    band0 = fields.IntField()
    band1 = fields.IntField()
    band2 = fields.IntField()
    band3 = fields.IntField()
    session_id = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    retired_at = fields.DatetimeField(null=True)
    retire_reason = fields.TextField(null=True)

    class Meta:
        table = "avatar"
        unique_together = (("platform_id", "external_ref"),)
        indexes = (("band0", "phash"), ("band1", "phash"), ("band2", "phash"), ("band3", "phash"))


# A verified MARKETER authorized to perform an avatar live; revocation keeps the row.
class AvatarDriver(Model):
    id = fields.BigIntField(primary_key=True)
    avatar_id = fields.CharField(max_length=32, db_index=True)
    performer_id = fields.CharField(max_length=32, db_index=True)
    authorized_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "avatar_driver"


# Who was answerable for an avatar when: the operator that manages an AI-generated person carries the
# liability (2025 measures Art 37), so a transfer keeps the history and the reason, outside the audit
# chain because a free-text reason may hold personal data.
class AvatarTransfer(Model):
    id = fields.BigIntField(primary_key=True)
    avatar_id = fields.CharField(max_length=32, db_index=True)
    from_operator_id = fields.CharField(max_length=32)
    to_operator_id = fields.CharField(max_length=32)
    reason = fields.TextField()
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "avatar_transfer"


# The real person's consent to the reproduction of their portrait and/or voice.
@encrypted("rights_holder_number_enc", "rights_holder_name_enc")
class Likeness(Model):
    id = fields.CharField(primary_key=True, max_length=32)
    avatar_id = fields.CharField(max_length=32, unique=True)
    rights_holder_document_type = fields.CharField(max_length=32)
    rights_holder_number_enc = fields.TextField()
    rights_holder_name_enc = fields.TextField()
    rights_holder_name_masked = fields.CharField(max_length=120)
    rights_holder_person_id = fields.CharField(max_length=32)
    portrait = fields.BooleanField()
    voice = fields.BooleanField()
    signed_at = fields.DatetimeField()
    valid_until = fields.DateField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    revoke_reason = fields.TextField(null=True)
    evidence_sha256 = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "likeness"
