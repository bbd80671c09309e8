from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


# A short-lived onboarding session for one applicant's mobile or web client, bound to one
# (platform, role, externalRef); its client token is revoked when the session is cancelled.
class OnboardingSession(Model):
    id = fields.CharField(primary_key=True, max_length=32)
    platform_id = fields.CharField(max_length=32, db_index=True)
    role = fields.CharField(max_length=16)
    external_ref = fields.CharField(max_length=128)
    status = fields.CharField(max_length=12)  # OPEN, COMPLETED, CANCELLED (EXPIRED is derived from expires_at)
    performer_id = fields.CharField(max_length=32, null=True)
    token_id = fields.CharField(max_length=64, null=True)
    expires_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)
    cancelled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "onboarding_session"
