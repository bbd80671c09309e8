from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.fields.db_defaults import SqlDefault
from tortoise.models import Model

from registry.rotation import encrypted


class InsertingTransaction(SqlDefault):
    """The inserting transaction's id (pg_current_xact_id()) on PostgreSQL; 0 on SQLite, which has none."""

    def __init__(self) -> None:
        super().__init__("0")

    def get_sql(self, _context: Any = None, dialect: str | None = None) -> str:
        return "pg_current_xact_id()" if dialect == "postgres" else self.sql

    def __repr__(self) -> str:
        return "InsertingTransaction()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InsertingTransaction)

    def __hash__(self) -> int:
        return hash("InsertingTransaction")


class TransactionIdField(fields.Field[int], int):
    """A full 64-bit transaction id (xid8: epoch and xid, never wraps) on PostgreSQL, BIGINT elsewhere."""

    SQL_TYPE = "BIGINT"

    class _db_postgres:
        SQL_TYPE = "XID8"


# A virtual online image, answerable to exactly one verified responsible operator. `identity` is the
# operator's identity across platforms (person:<id> or credit:<blind index>) for AVATAR_CONFLICT.
# The perceptual hash is stored whole and as four 16-bit bands (multi-index hashing); it never changes
# after the insert (a new image is a new avatar). Each band has a composite index (band, phash): SQLite
# probes the four for a near-duplicate lookup, PostgreSQL uses (band0, phash) to fetch the ids of the
# hashes its in-memory index found (registry.avatars.similarity). `txid` is the inserting transaction
# on PostgreSQL, set by the database: indexed with phash, it lets each process catch up on exactly the
# rows committed since its last lookup, even when transactions commit out of order.
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
    txid = TransactionIdField(db_default=InsertingTransaction())
    session_id = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    retired_at = fields.DatetimeField(null=True)
    retire_reason = fields.TextField(null=True)

    class Meta:
        table = "avatar"
        unique_together = (("platform_id", "external_ref"),)
        indexes = (("band0", "phash"), ("band1", "phash"), ("band2", "phash"), ("band3", "phash"), ("txid", "phash"))


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
