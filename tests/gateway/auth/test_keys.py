"""Signing keys: RFC 7638 kids, key sets and JWKS, LIVEGATE_SIGNING_KEYS loading, dev keys and rotation."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jose import jwk

from gateway.auth.keys import (
    KeyConfigError,
    KeySet,
    PrivateKey,
    SigningKey,
    dev_keys_path,
    generate_signing_key,
    jwk_thumbprint,
    load_keys_from_config,
    load_or_create_dev_keys,
    rotate_dev_keys,
)

PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def pem_of(private_key: PrivateKey | ed25519.Ed25519PrivateKey, password: bytes | None = None) -> str:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption).decode(
        "ascii"
    )


def new_ec() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# -- kid -----------------------------------------------------------------------------------------


def test_thumbprint_matches_the_rfc_7638_example() -> None:
    # RFC 7638 §3.1: the RSA key of RFC 7517 Appendix A.1 has this thumbprint.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjB"
        "ZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8"
        "KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_"
        "xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    modulus = int.from_bytes(base64.urlsafe_b64decode(n + "=="), "big")
    public_key = rsa.RSAPublicNumbers(65537, modulus).public_key()
    assert jwk_thumbprint(public_key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_ec_kid_is_the_thumbprint_of_the_public_jwk() -> None:
    key = generate_signing_key()
    # Independent of our own JWK code: python-jose renders the public JWK.
    members = jwk.construct(key.public_key, "ES256").to_dict()
    canonical = json.dumps({name: members[name] for name in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    assert key.kid == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_same_pem_always_gets_the_same_kid(tmp_path: Path) -> None:
    pem = pem_of(new_ec())
    path = tmp_path / "k.pem"
    path.write_text(pem)
    kids = {
        load_keys_from_config(pem).current.kid,
        load_keys_from_config(pem).current.kid,
        load_keys_from_config(str(path)).current.kid,
    }
    assert len(kids) == 1


def test_signing_key_refuses_a_chosen_kid() -> None:
    with pytest.raises(KeyConfigError, match="thumbprint"):
        SigningKey(kid="my-key", private_key=new_ec())


def test_signing_key_refuses_a_mismatched_alg() -> None:
    private_key = new_ec()
    with pytest.raises(KeyConfigError):
        SigningKey(kid=jwk_thumbprint(private_key.public_key()), private_key=private_key, alg="RS256")
    with pytest.raises(KeyConfigError):
        SigningKey(kid=jwk_thumbprint(private_key.public_key()), private_key=private_key, alg="HS256")


def test_signing_key_repr_has_no_key_material() -> None:
    key = generate_signing_key()
    assert "private_key" not in repr(key)
    assert key.kid in repr(key)


# -- KeySet and JWKS -----------------------------------------------------------------------------


def test_current_is_the_first_key_not_retired() -> None:
    retired = SigningKey.from_private_key(new_ec(), retired_at=datetime.now(UTC))
    first, second = generate_signing_key(), generate_signing_key()
    keys = KeySet([retired, first, second])
    assert keys.current is first
    assert keys.get(retired.kid) is retired  # retired keys still verify
    assert keys.get("nope") is None
    assert len(keys) == 3 and [key.kid for key in keys] == [retired.kid, first.kid, second.kid]
    assert first.kid in keys and "nope" not in keys


def test_keyset_needs_a_usable_key() -> None:
    with pytest.raises(KeyConfigError):
        KeySet([])
    with pytest.raises(KeyConfigError):
        KeySet([SigningKey.from_private_key(new_ec(), retired_at=datetime.now(UTC))])


def test_keyset_refuses_duplicates() -> None:
    key = generate_signing_key()
    with pytest.raises(KeyConfigError, match="twice"):
        KeySet([key, SigningKey.from_private_key(key.private_key)])


def test_public_jwks_has_no_private_members() -> None:
    ec_key = generate_signing_key()
    rsa_key = SigningKey.from_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    jwks = KeySet([ec_key, rsa_key]).public_jwks()
    assert list(jwks) == ["keys"]
    ec_jwk, rsa_jwk = jwks["keys"]
    assert set(ec_jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert ec_jwk["kty"] == "EC" and ec_jwk["crv"] == "P-256" and ec_jwk["alg"] == "ES256"
    assert ec_jwk["use"] == "sig" and ec_jwk["kid"] == ec_key.kid
    assert set(rsa_jwk) == {"kty", "n", "e", "kid", "alg", "use"}
    assert rsa_jwk["alg"] == "RS256" and rsa_jwk["e"] == "AQAB"
    for item in jwks["keys"]:
        assert not PRIVATE_JWK_MEMBERS & set(item)
    # Serialised as it will be served: the private scalar appears nowhere.
    assert isinstance(ec_key.private_key, ec.EllipticCurvePrivateKey)
    d = ec_key.private_key.private_numbers().private_value
    assert base64.urlsafe_b64encode(d.to_bytes(32, "big")).rstrip(b"=").decode() not in json.dumps(jwks)


def test_public_jwk_round_trips_to_the_same_public_key() -> None:
    key = generate_signing_key()
    rebuilt = jwk.construct(key.public_jwk(), "ES256")
    assert rebuilt.is_public()
    assert rebuilt.to_dict()["x"] == key.public_jwk()["x"]


# -- LIVEGATE_SIGNING_KEYS -----------------------------------------------------------------------


def test_inline_pem_loads() -> None:
    private_key = new_ec()
    keys = load_keys_from_config(pem_of(private_key))
    assert len(keys) == 1
    assert keys.current.alg == "ES256"
    assert keys.current.kid == jwk_thumbprint(private_key.public_key())


def test_inline_pem_blocks_keep_their_order() -> None:
    first, second = new_ec(), new_ec()
    keys = load_keys_from_config(pem_of(first) + pem_of(second))
    assert [key.kid for key in keys] == [jwk_thumbprint(k.public_key()) for k in (first, second)]
    assert keys.current.kid == jwk_thumbprint(first.public_key())


def test_inline_pem_with_escaped_newlines_loads() -> None:
    private_key = new_ec()
    flattened = pem_of(private_key).strip().replace("\n", "\\n")
    assert load_keys_from_config(flattened).current.kid == jwk_thumbprint(private_key.public_key())


def test_traditional_ec_pem_loads() -> None:
    private_key = new_ec()
    sec1 = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    assert sec1.startswith("-----BEGIN EC PRIVATE KEY-----")
    assert load_keys_from_config(sec1).current.kid == jwk_thumbprint(private_key.public_key())


@pytest.mark.parametrize("separator", [",", "\n", " , ", ",\n"])
def test_file_paths_load_in_order(tmp_path: Path, separator: str) -> None:
    first, second = new_ec(), new_ec()
    paths = []
    for name, private_key in (("a.pem", first), ("b.pem", second)):
        path = tmp_path / name
        path.write_text(pem_of(private_key))
        paths.append(str(path))
    keys = load_keys_from_config(separator.join(paths) + "\n")
    assert [key.kid for key in keys] == [jwk_thumbprint(k.public_key()) for k in (first, second)]


def test_rsa_keys_load_as_rs256(tmp_path: Path) -> None:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "rsa.pem"
    path.write_text(pem_of(private_key))
    assert load_keys_from_config(str(path)).current.alg == "RS256"


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(KeyConfigError, match=r"nope\.pem"):
        load_keys_from_config(str(missing))


def _public_pem() -> str:
    return (
        new_ec()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n", "not a readable"),
        ("-----BEGIN PRIVATE KEY-----\nunterminated", "only PEM blocks"),
        (pem_of(ec.generate_private_key(ec.SECP384R1())), "P-256"),
        (pem_of(rsa.generate_private_key(public_exponent=65537, key_size=1024)), "2048"),
        (pem_of(ed25519.Ed25519PrivateKey.generate()), "EC P-256 or RSA"),
        (pem_of(ec.generate_private_key(ec.SECP256R1()), password=b"pw"), "encrypted"),
    ],
)
def test_unusable_configuration_is_a_clear_error(value: str, message: str) -> None:
    with pytest.raises(KeyConfigError, match=message):
        load_keys_from_config(value)


def test_public_key_instead_of_private_is_refused() -> None:
    with pytest.raises(KeyConfigError, match="not a readable PEM private key"):
        load_keys_from_config(_public_pem())


def test_junk_around_pem_blocks_is_refused() -> None:
    with pytest.raises(KeyConfigError, match="only PEM blocks"):
        load_keys_from_config("junk\n" + pem_of(new_ec()))


def test_errors_never_echo_key_material(tmp_path: Path) -> None:
    broken = pem_of(new_ec()).replace("M", "!", 1)
    with pytest.raises(KeyConfigError) as info:
        load_keys_from_config(broken)
    body_line = broken.splitlines()[1]
    assert body_line not in str(info.value)
    path = tmp_path / "broken.pem"
    path.write_text(broken)
    with pytest.raises(KeyConfigError) as info:
        load_keys_from_config(str(path))
    assert body_line not in str(info.value) and "broken.pem" in str(info.value)


def test_not_a_pem_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key.der"
    path.write_bytes(
        new_ec().private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(KeyConfigError, match=r"key\.der"):
        load_keys_from_config(str(path))


def test_duplicate_configured_keys_are_refused() -> None:
    pem = pem_of(new_ec())
    with pytest.raises(KeyConfigError, match="twice"):
        load_keys_from_config(pem + pem)


# -- dev keys ------------------------------------------------------------------------------------


def test_dev_keys_are_created_once_and_private(tmp_path: Path) -> None:
    keys = load_or_create_dev_keys(tmp_path)
    path = dev_keys_path(tmp_path)
    assert path == tmp_path / "keys" / "signing-keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(keys) == 1 and keys.current.alg == "ES256"
    again = load_or_create_dev_keys(tmp_path)
    assert [key.kid for key in again] == [keys.current.kid]
    assert again.current.created_at == keys.current.created_at

    document = json.loads(path.read_text())
    (record,) = document["keys"]
    assert record["kid"] == keys.current.kid and record["retired_at"] is None
    assert record["pem"].startswith("-----BEGIN PRIVATE KEY-----")
    assert datetime.fromisoformat(record["created_at"]).tzinfo is not None


def test_rotation_adds_a_current_key_and_retires_the_old(tmp_path: Path) -> None:
    old = load_or_create_dev_keys(tmp_path).current
    now = datetime.now(UTC)
    new = rotate_dev_keys(tmp_path, keep_for=timedelta(minutes=15), now=now)
    keys = load_or_create_dev_keys(tmp_path)
    assert keys.current.kid == new.kid != old.kid
    assert [key.kid for key in keys] == [new.kid, old.kid]
    retired = keys.get(old.kid)
    assert retired is not None and retired.retired_at == now
    assert {item["kid"] for item in keys.public_jwks()["keys"]} == {old.kid, new.kid}
    assert stat.S_IMODE(dev_keys_path(tmp_path).stat().st_mode) == 0o600
    # Written through a temporary file and os.replace: nothing is left behind.
    assert sorted(p.name for p in dev_keys_path(tmp_path).parent.iterdir()) == [
        "signing-keys.json",
        "signing-keys.lock",
    ]


def test_rotation_prunes_keys_retired_longer_than_keep_for(tmp_path: Path) -> None:
    keep_for = timedelta(minutes=15)
    start = datetime.now(UTC)
    first = load_or_create_dev_keys(tmp_path).current
    second = rotate_dev_keys(tmp_path, keep_for=keep_for, now=start)
    third = rotate_dev_keys(tmp_path, keep_for=keep_for, now=start + keep_for)  # first: exactly keep_for
    assert [key.kid for key in load_or_create_dev_keys(tmp_path)] == [third.kid, second.kid, first.kid]
    fourth = rotate_dev_keys(tmp_path, keep_for=keep_for, now=start + keep_for + timedelta(seconds=1))
    assert [key.kid for key in load_or_create_dev_keys(tmp_path)] == [fourth.kid, third.kid, second.kid]


def test_rotation_without_existing_keys_creates_one(tmp_path: Path) -> None:
    new = rotate_dev_keys(tmp_path, keep_for=timedelta(minutes=15))
    assert [key.kid for key in load_or_create_dev_keys(tmp_path)] == [new.kid]


def test_rotation_refuses_negative_keep_for(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        rotate_dev_keys(tmp_path, keep_for=timedelta(seconds=-1))


def test_corrupt_dev_keys_are_an_error_not_regenerated(tmp_path: Path) -> None:
    load_or_create_dev_keys(tmp_path)
    path = dev_keys_path(tmp_path)
    path.write_text("{not json")
    with pytest.raises(KeyConfigError, match=r"signing-keys\.json"):
        load_or_create_dev_keys(tmp_path)
    assert path.read_text() == "{not json"


def test_dev_key_with_a_tampered_kid_is_refused(tmp_path: Path) -> None:
    load_or_create_dev_keys(tmp_path)
    path = dev_keys_path(tmp_path)
    document = json.loads(path.read_text())
    document["keys"][0]["kid"] = "someone-elses-kid"
    path.write_text(json.dumps(document))
    with pytest.raises(KeyConfigError, match="kid"):
        load_or_create_dev_keys(tmp_path)


def test_dev_keys_survive_a_failed_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = load_or_create_dev_keys(tmp_path).current.kid

    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        rotate_dev_keys(tmp_path, keep_for=timedelta(minutes=15))
    monkeypatch.undo()
    assert load_or_create_dev_keys(tmp_path).current.kid == before
    assert not list(dev_keys_path(tmp_path).parent.glob("*.tmp"))


def test_dev_key_times_without_offset_are_read_as_utc(tmp_path: Path) -> None:
    load_or_create_dev_keys(tmp_path)
    path = dev_keys_path(tmp_path)
    document = json.loads(path.read_text())
    document["keys"][0]["created_at"] = "2026-01-02T03:04:05"
    path.write_text(json.dumps(document))
    assert load_or_create_dev_keys(tmp_path).current.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    rotate_dev_keys(tmp_path, keep_for=timedelta(minutes=15))  # compares times: must not raise
