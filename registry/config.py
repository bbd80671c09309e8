"""Process-wide registry settings: crypto, the age rule, blob storage, identity provider.

The gateway's composition root calls `configure()` once at start-up (tests do the same in a
fixture); services read `current()`. Module state rather than an argument on every call, because
every process has exactly one configuration and threading it through each service adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from registry.avatars.storage import BlobStore
from registry.crypto import BlindIndexer, Vault
from registry.identity_provider import IdentityProvider, LocalProvider
from registry.validators.age import AgeRule


@dataclass(frozen=True, slots=True)
class RegistryConfig:
    vault: Vault
    indexer: BlindIndexer
    blobs: BlobStore
    age_rule: AgeRule = AgeRule.DAY_AFTER
    max_file_bytes: int = 8 * 1024 * 1024
    identity_provider: IdentityProvider = field(default_factory=LocalProvider)
    provider_pending_limit_s: int = 86400


_current: RegistryConfig | None = None


def configure(config: RegistryConfig) -> None:
    global _current
    _current = config


def current() -> RegistryConfig:
    if _current is None:
        raise RuntimeError("registry.config.configure() was not called at start-up")
    return _current
