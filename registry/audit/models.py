from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

GENESIS_HASH = "0" * 64


# One link of a platform's append-only SHA-256 chain; never updated or deleted.
class AuditEvent(Model):
    id = fields.CharField(primary_key=True, max_length=32)
    platform_id = fields.CharField(max_length=32)
    seq = fields.BigIntField()
    at = fields.DatetimeField()
    actor_kind = fields.CharField(max_length=20)
    token_id = fields.CharField(max_length=64, null=True)
    action = fields.CharField(max_length=64)
    subject_id = fields.CharField(max_length=32, null=True)
    canonical = fields.TextField()
    hash = fields.CharField(max_length=64)
    prev_hash = fields.CharField(max_length=64)

    class Meta:
        table = "audit_event"
        # A second writer that read the same head cannot fork the chain: its insert fails here.
        unique_together = (("platform_id", "seq"),)
        indexes = (("platform_id", "subject_id"),)


# The newest link of each chain; locked while appending so writers queue up. `prev_hash` is the link
# before it: one UPDATE moves the head and returns both (SET reads the old row), so on PostgreSQL a
# single event is chained in one statement (registry.audit.services).
class AuditHead(Model):
    platform_id = fields.CharField(primary_key=True, max_length=32)
    seq = fields.BigIntField(default=0)
    hash = fields.CharField(max_length=64, default=GENESIS_HASH)
    prev_hash = fields.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        table = "audit_head"
