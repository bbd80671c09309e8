from __future__ import annotations

import hashlib
from typing import Any

from tortoise import fields
from tortoise.models import Model


# A platform measure on a performer, organization, agency or avatar. Lifting is recorded, never deleted.
class Enforcement(Model):
    id = fields.CharField(primary_key=True, max_length=32)
    platform_id = fields.CharField(max_length=32)
    subject_id = fields.CharField(max_length=32, db_index=True)
    action = fields.CharField(max_length=20)
    reason = fields.TextField()
    public_reason = fields.TextField()
    since = fields.DatetimeField()
    until = fields.DatetimeField(null=True)
    lifted_at = fields.DatetimeField(null=True)
    lift_reason = fields.TextField(null=True)
    external_ref = fields.CharField(max_length=128, null=True)
    token_id = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "enforcement"


# Identity keys (blind indexes only) that block or flag (re-)registration; PLATFORM or JOINT scope.
class BlacklistEntry(Model):
    id = fields.CharField(primary_key=True, max_length=32)
    platform_id = fields.CharField(max_length=32, db_index=True)
    scope = fields.CharField(max_length=10)
    reason = fields.TextField()
    until = fields.DatetimeField(null=True)
    removed_at = fields.DatetimeField(null=True)
    removed_reason = fields.TextField(null=True)
    external_ref = fields.CharField(max_length=128, null=True)
    enforcement_id = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "blacklist_entry"


def value_digest(value: str) -> int:
    """A stored key's lookup digest: the first 64 bits of its hex digest (after the last ':'), signed.

    Blind indexes end in an HMAC-SHA256 and image values in the perceptual hash, so these bits are
    uniformly spread; anything else (never written by the registry) falls back to a BLAKE2b digest.
    """
    tail = value.rpartition(":")[2][:16]
    try:
        raw = bytes.fromhex(tail) if len(tail) == 16 else None
    except ValueError:
        raw = None
    if raw is None:
        raw = hashlib.blake2b(value.encode(), digest_size=8, person=b"livegate-bkey").digest()
    return int.from_bytes(raw, "big", signed=True)


# One key of an entry. `value` is a keyed blind index ("kid:hex"); AVATAR_IMAGE keys also keep the
# perceptual hash and its four 16-bit bands (null for other kinds). Each band has a composite index
# (band, phash), as the avatar table has: the near-duplicate lookup filters the exact distance inside
# index-only scans on PostgreSQL (registry.enforcement.screening).
# Exact lookups go through `digest` (value_digest of `value`, set on construction): an 8-byte key keeps
# its index under a quarter of the text index's size (100 MB against 428 MB at a million entries, near
# shared_buffers rather than three times it); matches are rechecked against the full `value`. The
# `value` index stays for lookups by value elsewhere (the supplier import's batch pre-check).
class BlacklistKey(Model):
    id = fields.BigIntField(primary_key=True)
    entry_id = fields.CharField(max_length=32, db_index=True)
    kind = fields.CharField(max_length=20)
    value = fields.CharField(max_length=80, db_index=True)
    digest = fields.BigIntField(db_index=True)
    phash = fields.BigIntField(null=True)
    band0 = fields.IntField(null=True)
    band1 = fields.IntField(null=True)
    band2 = fields.IntField(null=True)
    band3 = fields.IntField(null=True)

    class Meta:
        table = "blacklist_key"
        indexes = (("band0", "phash"), ("band1", "phash"), ("band2", "phash"), ("band3", "phash"))

    def __init__(self, **kwargs: Any) -> None:
        # The digest always follows the value, whoever builds the row (create, bulk_create).
        if kwargs.get("value") is not None and kwargs.get("digest") is None:
            kwargs["digest"] = value_digest(kwargs["value"])
        super().__init__(**kwargs)


# A compliance officer's approval of a fuzzy match: the same subject is not sent to REVIEW for it again.
class ReviewApproval(Model):
    id = fields.BigIntField(primary_key=True)
    platform_id = fields.CharField(max_length=32)
    subject_id = fields.CharField(max_length=32, db_index=True)
    entry_id = fields.CharField(max_length=32)
    kind = fields.CharField(max_length=20)
    decided_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "review_approval"
        unique_together = (("subject_id", "entry_id", "kind"),)
