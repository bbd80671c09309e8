from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

from registry.enforcement.models import value_digest

_BATCH = 10_000


# Exact blacklist lookups go through an 8-byte digest of the blind index instead of the 80-character
# text (registry.enforcement.models.BlacklistKey). The column is added nullable, filled for the rows
# already stored, then made NOT NULL so no row can be missed by a lookup.
async def _fill_digests(apps, schema_editor) -> None:
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    select = (
        'SELECT "id", "value" FROM "blacklist_key" WHERE "digest" IS NULL ORDER BY "id" LIMIT ' + str(_BATCH)
    )
    update = (
        'UPDATE "blacklist_key" SET "digest" = $1 WHERE "id" = $2'
        if postgres
        else 'UPDATE "blacklist_key" SET "digest" = ? WHERE "id" = ?'
    )
    while rows := await client.execute_query_dict(select):
        await client.execute_many(update, [[value_digest(row["value"]), row["id"]] for row in rows])


class Migration(migrations.Migration):
    dependencies = [('livegate', '0002_avatar_similarity')]

    initial = False

    operations = [
        ops.AddField(
            model_name='BlacklistKey',
            name='digest',
            field=fields.BigIntField(null=True, db_index=True),
        ),
        ops.RunPython(_fill_digests, ops.RunPython.noop),
        ops.AlterField(
            model_name='BlacklistKey',
            name='digest',
            field=fields.BigIntField(db_index=True),
        ),
    ]
