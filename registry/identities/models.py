from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


# One natural person across every platform, found by the blind index of a document key. Records of the
# same person on two platforms point here, so "the same person" is one identity (avatars, uniqueness).
class Person(Model):
    id = fields.CharField(primary_key=True, max_length=32)
    document_index = fields.CharField(max_length=80, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "person"


# The identity keys of a subject (performer, guardian, organization, agency, supplier, avatar) as keyed
# blind indexes, never raw values: screening and blacklist matching join on `value`.
class IdentityKey(Model):
    id = fields.BigIntField(primary_key=True)
    subject_id = fields.CharField(max_length=32)
    platform_id = fields.CharField(max_length=32)
    kind = fields.CharField(max_length=20)  # DOCUMENT, CREDIT_CODE, PHONE, DEVICE, NAME_AND_BIRTHDATE, AVATAR_IMAGE
    value = fields.CharField(max_length=80)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "identity_key"
        unique_together = (("subject_id", "kind", "value"),)
        indexes = (("value",),)
