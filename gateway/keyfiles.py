"""Development key material kept in the data dir; production reads it from configuration."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from gateway.settings import ConfigError
from registry.crypto import Keyring, KeyringError


def keys_dir(data_dir: Path) -> Path:
    path = data_dir / "keys"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write a secret file atomically, readable by its owner only."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_keyring(configured: str | None, data_dir: Path, name: str) -> Keyring:
    """The configured keyring, or in development one generated once into data_dir/keys/NAME."""
    variable = f"LIVEGATE_{name.upper().replace('-', '_')}"
    if configured:
        try:
            return Keyring.parse(configured, what=variable)
        except KeyringError as exc:
            raise ConfigError(f"{variable}: {exc}") from None
    path = keys_dir(data_dir) / name
    if not path.exists():
        write_private(path, Keyring.generate(f"k{secrets.token_hex(3)}").format())
    try:
        return Keyring.parse(path.read_text(), what=str(path))
    except KeyringError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def rotate_keyring(data_dir: Path, name: str) -> Keyring:
    """Put a new key first in a development keyring; older keys keep decrypting and matching."""
    current = load_keyring(None, data_dir, name)
    rotated = Keyring((Keyring.generate(f"k{secrets.token_hex(3)}").current, *current.keys))
    write_private(keys_dir(data_dir) / name, rotated.format())
    return rotated
