from tortoise import migrations
from tortoise.migrations import operations as ops

# The indexes the BlacklistKey model declares, by the names Tortoise gives them. 0003 added `digest`
# with db_index, but its index was never created on PostgreSQL, and on SQLite its AlterField rebuilt
# the table without any of them: every migrated database screened by scanning blacklist_key. Databases
# built from the models have them all (IF NOT EXISTS). tests/registry/test_migrations.py now compares
# the indexes of a migrated database with those of one built from the models.
_INDEXES = (
    ("idx_blacklist_k_entry_i_c323fd", '"entry_id"'),
    ("idx_blacklist_k_value_bf9379", '"value"'),
    ("idx_blacklist_k_digest_f53ae4", '"digest"'),
    ("idx_blacklist_k_band0_c479b5", '"band0", "phash"'),
    ("idx_blacklist_k_band1_cbff33", '"band1", "phash"'),
    ("idx_blacklist_k_band2_87dcff", '"band2", "phash"'),
    ("idx_blacklist_k_band3_ea33c2", '"band3", "phash"'),
)


async def _restore_indexes(apps, schema_editor) -> None:
    for name, columns in _INDEXES:
        await schema_editor.client.execute_script(f'CREATE INDEX IF NOT EXISTS "{name}" ON "blacklist_key" ({columns})')


class Migration(migrations.Migration):
    dependencies = [('livegate', '0004_audit_head_prev_hash')]

    initial = False

    operations = [
        ops.RunPython(_restore_indexes, ops.RunPython.noop),
    ]
