from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class RecordState(StrEnum):
    RUNNING = "RUNNING"
    DONE = "DONE"


# One Idempotency-Key per token subject: the first request's fingerprint and, once it finished, its
# response (bodies hold only masked data; request bodies are never stored, only their SHA-256).
# created_at is when the current attempt started: a stale RUNNING takeover moves it, and the takeover's
# conditional UPDATE on it lets only one taker win. expires_at ends the replay window.
class IdempotencyRecord(Model):
    id = fields.CharField(primary_key=True, max_length=32)
    subject = fields.CharField(max_length=64)
    key = fields.CharField(max_length=255)
    fingerprint = fields.CharField(max_length=64)
    state = fields.CharField(max_length=10)
    status = fields.SmallIntField(null=True)
    response = fields.BinaryField(null=True)
    headers = fields.JSONField(null=True)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "idempotency_record"
        # Settles concurrent first requests: only one INSERT per (subject, key) can succeed.
        unique_together = (("subject", "key"),)
