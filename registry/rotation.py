"""Re-encryption of stored personal data under the current data key (`livegate keys rotate-data`)."""

from __future__ import annotations

from tortoise.models import Model
from tortoise.transactions import in_transaction

from registry.crypto import Vault, field_aad

# Each domain registers the models and columns it encrypts, next to the model definition.
ENCRYPTED_COLUMNS: list[tuple[type[Model], tuple[str, ...]]] = []
_BATCH = 500


def encrypted(*columns: str):  # type: ignore[no-untyped-def]
    """Class decorator: declare which columns of a model hold ciphertexts."""

    def register(model: type[Model]) -> type[Model]:
        ENCRYPTED_COLUMNS.append((model, columns))
        return model

    return register


async def reencrypt_all(vault: Vault) -> int:
    changed = 0
    for model, columns in ENCRYPTED_COLUMNS:
        changed += await _reencrypt_model(vault, model, columns)
    return changed


async def _reencrypt_model(vault: Vault, model: type[Model], columns: tuple[str, ...]) -> int:
    table, pk = model._meta.db_table, model._meta.pk_attr
    changed, last_pk = 0, ""
    while True:
        async with in_transaction():
            rows = await model.filter(**{f"{pk}__gt": last_pk}).order_by(pk).limit(_BATCH).select_for_update()
            if not rows:
                return changed
            for row in rows:
                updates = [c for c in columns if _rotate(vault, row, c, table)]
                if updates:
                    await row.save(update_fields=updates)
                    changed += len(updates)
            last_pk = rows[-1].pk


def _rotate(vault: Vault, row: Model, column: str, table: str) -> bool:
    value = getattr(row, column)
    if not value or vault.is_current(value):
        return False
    setattr(row, column, vault.reencrypt(value, aad=field_aad(table, column, row.pk)))
    return True
