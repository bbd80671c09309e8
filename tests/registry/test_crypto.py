from __future__ import annotations

import pytest

from registry.crypto import BlindIndexer, DecryptionError, Keyring, KeyringError, Vault, field_aad


def test_encrypts_with_the_current_key_and_reads_old_ones() -> None:
    old = Keyring.generate("k1")
    token = Vault(old).encrypt("11010519491231002X", aad="performer.doc.per_1")
    assert token.startswith("v1.k1.") and "1101" not in token
    rotated = Keyring((Keyring.generate("k2").current, *old.keys))
    vault = Vault(rotated)
    assert vault.decrypt(token, aad="performer.doc.per_1") == "11010519491231002X"
    assert not vault.is_current(token)
    fresh = vault.reencrypt(token, aad="performer.doc.per_1")
    assert fresh.startswith("v1.k2.") and vault.decrypt(fresh, aad="performer.doc.per_1") == "11010519491231002X"


def test_a_ciphertext_moved_to_another_row_does_not_decrypt() -> None:
    vault = Vault(Keyring.generate("k1"))
    token = vault.encrypt("secret", aad=field_aad("performer", "name", "per_1"))
    with pytest.raises(DecryptionError):
        vault.decrypt(token, aad=field_aad("performer", "name", "per_2"))
    with pytest.raises(DecryptionError):
        vault.decrypt(token[:-4] + "AAAA", aad=field_aad("performer", "name", "per_1"))
    with pytest.raises(DecryptionError):
        Vault(Keyring.generate("k9")).decrypt(token, aad=field_aad("performer", "name", "per_1"))


def test_blind_indexes_survive_rotation_and_separate_kinds() -> None:
    old = Keyring.generate("k1")
    stored = BlindIndexer(old).index("document", "11010519491231002X")
    rotated = BlindIndexer(Keyring((Keyring.generate("k2").current, *old.keys)))
    assert stored in rotated.candidates("document", "11010519491231002X")
    assert stored not in rotated.candidates("phone", "11010519491231002X")
    assert rotated.index("document", "11010519491231002X").startswith("k2:")


@pytest.mark.parametrize(
    "text", ["", "k1", "k1:notbase64!", "k1:AAAA", "k-1:" + "A" * 44, "k1:" + "A" * 43 + "=,k1:" + "A" * 43 + "="]
)
def test_keyring_parsing_refuses_bad_input(text: str) -> None:
    with pytest.raises(KeyringError):
        Keyring.parse(text)


def test_keyring_round_trip() -> None:
    ring = Keyring((Keyring.generate("a1").current, Keyring.generate("b2").current))
    assert Keyring.parse(ring.format()) == ring
