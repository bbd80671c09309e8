from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('platform_id', fields.CharField(max_length=32)),
                ('seq', fields.BigIntField()),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('actor_kind', fields.CharField(max_length=20)),
                ('token_id', fields.CharField(null=True, max_length=64)),
                ('action', fields.CharField(max_length=64)),
                ('subject_id', fields.CharField(null=True, max_length=32)),
                ('canonical', fields.TextField(unique=False)),
                ('hash', fields.CharField(max_length=64)),
                ('prev_hash', fields.CharField(max_length=64)),
            ],
            options={'table': 'audit_event', 'app': 'livegate', 'unique_together': (('platform_id', 'seq'),), 'indexes': [Index(fields=['platform_id', 'subject_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditHead',
            fields=[
                ('platform_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('seq', fields.BigIntField(default=0)),
                ('hash', fields.CharField(default='0000000000000000000000000000000000000000000000000000000000000000', max_length=64)),
            ],
            options={'table': 'audit_head', 'app': 'livegate', 'pk_attr': 'platform_id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Platform',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('name', fields.CharField(unique=True, max_length=100)),
                ('client_id', fields.CharField(unique=True, max_length=40)),
                ('client_secret_hash', fields.CharField(max_length=200)),
                ('scopes', fields.TextField(unique=False)),
                ('minimum_age', fields.SmallIntField(default=16)),
                ('allowed_origins', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'platform', 'app': 'livegate', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
