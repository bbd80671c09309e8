"""`livegate keys rotate-data`: stored personal data moves to the current key and stays readable."""

from __future__ import annotations

import dataclasses

from tortoise.context import TortoiseContext

from registry import config
from registry.crypto import Keyring, Vault
from registry.performers import services as performers
from registry.performers.models import GuardianConsent, Performer
from registry.rotation import reencrypt_all
from tests.conftest import make_platform
from tests.factories import make_performer, years_ago


async def test_rotation_reencrypts_every_registered_column(db: TortoiseContext) -> None:
    platform = await make_platform()
    adult = await make_performer(platform.id, name="欧阳明月")
    await make_performer(platform.id, birth=years_ago(17, days=3))  # with a guardian consent
    old = config.current().vault.keyring
    rotated = Keyring((Keyring.generate("new1").current, *old.keys))
    vault = Vault(rotated)
    changed = await reencrypt_all(vault)
    assert changed == 2 * 4 + 4  # two performers and one consent, four encrypted columns each
    assert await reencrypt_all(vault) == 0  # nothing left on the old key
    config.configure(dataclasses.replace(config.current(), vault=Vault(Keyring((rotated.current,)))))
    reloaded = await Performer.get(id=adult.id)
    assert reloaded.document_number_enc.startswith("v1.new1.")
    assert performers._stored_document(reloaded).full_name == "欧阳明月"
    consent = await GuardianConsent.get()
    assert consent.guardian_name_enc.startswith("v1.new1.")
