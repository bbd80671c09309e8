from tortoise import migrations
from tortoise.migrations import operations as ops

# The function an adult's registration calls in its one write statement: the identity locks, then the
# re-screening under a snapshot taken after them (registry.enforcement.screening.ROUTINES, of which this
# is a frozen copy; tests/registry/test_migrations.py compares the two). PostgreSQL only: SQLite
# registrations take the ORM path.
_CREATE = """CREATE OR REPLACE FUNCTION "livegate_locked_listed"(
    p_locks bigint[], p_digests bigint[], p_values text[], p_now timestamptz, p_platform text
) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(k) FROM unnest(p_locks) AS k;  -- in the array's order
    RETURN EXISTS (
        SELECT 1 FROM "blacklist_key" lk JOIN "blacklist_entry" le ON le."id" = lk."entry_id"
        WHERE lk."digest" = ANY(p_digests) AND lk."value" = ANY(p_values)
          AND le."removed_at" IS NULL AND (le."until" IS NULL OR le."until" > p_now)
          AND (le."platform_id" = p_platform OR le."scope" = 'JOINT'));
END $$"""
_DROP = 'DROP FUNCTION IF EXISTS "livegate_locked_listed"(bigint[], bigint[], text[], timestamptz, text)'


def _on_postgres(sql: str):
    async def run(apps, schema_editor) -> None:
        if schema_editor.client.capabilities.dialect == "postgres":
            await schema_editor.client.execute_script(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [('livegate', '0005_blacklist_key_indexes')]

    initial = False

    operations = [
        ops.RunPython(_on_postgres(_CREATE), _on_postgres(_DROP)),
    ]
