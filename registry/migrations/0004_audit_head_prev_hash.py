from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from registry.audit.models import GENESIS_HASH


# The head remembers the link before it (registry.audit.models.AuditHead): added nullable, filled from
# each chain's newest event (genesis for an empty chain), then made NOT NULL, as 0003 does.
async def _fill_prev_hashes(apps, schema_editor) -> None:
    await schema_editor.client.execute_script(
        'UPDATE "audit_head" SET "prev_hash" = COALESCE((SELECT e."prev_hash" FROM "audit_event" e '
        'WHERE e."platform_id" = "audit_head"."platform_id" AND e."seq" = "audit_head"."seq"), \'' + GENESIS_HASH + "')"
    )


class Migration(migrations.Migration):
    dependencies = [('livegate', '0003_blacklist_index')]

    initial = False

    operations = [
        ops.AddField(
            model_name='AuditHead',
            name='prev_hash',
            field=fields.CharField(default=GENESIS_HASH, max_length=64, null=True),
        ),
        ops.RunPython(_fill_prev_hashes, ops.RunPython.noop),
        ops.AlterField(
            model_name='AuditHead',
            name='prev_hash',
            field=fields.CharField(default=GENESIS_HASH, max_length=64),
        ),
    ]
