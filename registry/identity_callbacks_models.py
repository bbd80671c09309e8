from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


# One answer received through the identity provider's callback. The unique event id makes a
# replayed callback a no-op; rows for unknown subjects are never written, so a provider that
# called back before the registration committed can retry.
class ProviderEvent(Model):
    id = fields.BigIntField(primary_key=True)
    event_id = fields.CharField(max_length=128, unique=True)
    subject_id = fields.CharField(max_length=32, db_index=True)
    verdict = fields.CharField(max_length=12)
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "provider_event"
