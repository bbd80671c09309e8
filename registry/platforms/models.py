from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


# A tenant: one live-marketing platform and its OAuth client.
class Platform(Model):
    id = fields.CharField(primary_key=True, max_length=32)
    name = fields.CharField(max_length=100, unique=True)
    client_id = fields.CharField(max_length=40, unique=True)
    client_secret_hash = fields.CharField(max_length=200)
    scopes = fields.TextField()  # space-separated, catalogue order
    minimum_age = fields.SmallIntField(default=16)
    allowed_origins = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "platform"

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()
