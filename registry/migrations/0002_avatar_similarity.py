from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

from registry.avatars.models import InsertingTransaction, TransactionIdField


# The near-duplicate index keeps the avatar hashes in memory in every gateway process and catches up on
# the rows committed since its last lookup by inserting transaction (registry.avatars.similarity).
# Existing rows get the migrating transaction's id, which is committed before any process reads it.
class Migration(migrations.Migration):
    dependencies = [('livegate', '0001_initial')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Avatar',
            name='txid',
            field=TransactionIdField(db_default=InsertingTransaction(), generated=False, null=False, unique=False),
        ),
        ops.AddIndex(
            model_name='Avatar',
            index=Index(fields=['txid', 'phash']),
        ),
    ]
