"""What one gateway process holds: settings, schema, keys and shared clients (the composition root)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

import redis.asyncio as aioredis
import strawberry
from graphql import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, ParserCache, ValidationCache

from gateway.auth.client_tokens import GatewayClientTokens
from gateway.auth.keys import KeyConfigError, KeySet, load_keys_from_config, load_or_create_dev_keys
from gateway.auth.revocation import MemoryRevocationStore, RedisRevocationStore, RevocationStore
from gateway.auth.tokens import TokenService
from gateway.cors import OriginPolicy
from gateway.documents import PreparedDocuments
from gateway.idempotency_redis import RedisIdempotencyStore
from gateway.keyfiles import load_keyring
from gateway.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from gateway.settings import ConfigError, IdentityProviderKind, Settings
from registry.avatars.storage import LocalBlobStore
from registry.config import RegistryConfig
from registry.crypto import BlindIndexer, Vault
from registry.idempotency.services import DatabaseIdempotencyStore, IdempotencyStore
from registry.identity_http import HttpProvider
from registry.identity_provider import IdentityProvider, LocalProvider
from schema.build import build_schema
from schema.extensions import ErrorCodes, OperationLimits, limits_rule

DOCUMENT_CACHE_SIZE = 1024
# Onboarding client tokens live as long as their session (at most a day): keep retired keys that long.
MAX_TOKEN_LIFETIME = timedelta(days=1)


@dataclass(slots=True)
class Runtime:
    settings: Settings
    schema: strawberry.Schema
    documents: PreparedDocuments
    tokens: TokenService
    vault: Vault
    indexer: BlindIndexer
    redis: aioredis.Redis | None
    registry: RegistryConfig
    client_tokens: GatewayClientTokens
    rate_limiter: RateLimiter
    idempotency: IdempotencyStore
    origins: OriginPolicy

    @property
    def token_lifetime(self) -> timedelta:
        return timedelta(seconds=self.settings.token_lifetime_s)


def ensure_data_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"LIVEGATE_DATA_DIR={path} is not writable ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK):
        raise ConfigError(f"LIVEGATE_DATA_DIR={path} is not writable")


def load_signing_keys(settings: Settings) -> KeySet:
    try:
        if settings.signing_keys:
            return load_keys_from_config(settings.signing_keys)
        return load_or_create_dev_keys(settings.data_dir)
    except KeyConfigError as exc:
        raise ConfigError(f"LIVEGATE_SIGNING_KEYS: {exc}") from None


def _extra_rules(settings: Settings) -> list[type[ASTValidationRule]]:
    """The validation rules beyond graphql-core's own: request limits, and no introspection in prod."""
    limits = settings.limits
    rules = [limits_rule(OperationLimits(depth=limits.depth, aliases=limits.aliases, tokens=limits.tokens))]
    # prod without LIVEGATE_EXPLORER=1: no GraphiQL and no introspection.
    return rules if settings.explorer else [NoSchemaIntrospectionCustomRule, *rules]


def build_graphql_schema(settings: Settings) -> tuple[strawberry.Schema, PreparedDocuments]:
    """The schema, and the prepared-document path that runs the same validation rules."""
    rules = _extra_rules(settings)
    schema = build_schema(
        extensions=[
            ErrorCodes,
            partial(AddValidationRules, rules),
            # Validation dominates the cost of small queries (notes/stack-bench.md); both LRUs are bounded.
            lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
            lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
        ]
    )
    return schema, PreparedDocuments(schema, rules, maxsize=DOCUMENT_CACHE_SIZE)


def build_identity_provider(settings: Settings) -> IdentityProvider:
    if settings.identity_provider is IdentityProviderKind.HTTP:
        assert settings.identity_provider_url and settings.identity_provider_secret  # settings checked both
        return HttpProvider(
            settings.identity_provider_url,
            settings.identity_provider_secret,
            timeout_s=settings.identity_provider_timeout_s,
        )
    return LocalProvider()


def build_runtime(settings: Settings) -> Runtime:
    ensure_data_dir(settings.data_dir)
    client = aioredis.from_url(settings.redis_url) if settings.redis_url else None
    revocations: RevocationStore = RedisRevocationStore(client) if client else MemoryRevocationStore()
    tokens = TokenService(load_signing_keys(settings), issuer=settings.issuer, revocations=revocations)
    vault = Vault(load_keyring(settings.data_keys, settings.data_dir, "data-keys"))
    indexer = BlindIndexer(load_keyring(settings.index_keys, settings.data_dir, "index-keys"))
    schema, documents = build_graphql_schema(settings)
    return Runtime(
        settings=settings,
        schema=schema,
        documents=documents,
        tokens=tokens,
        vault=vault,
        indexer=indexer,
        redis=client,
        client_tokens=GatewayClientTokens(tokens),
        rate_limiter=RedisRateLimiter(client) if client else MemoryRateLimiter(),
        idempotency=RedisIdempotencyStore(client) if client else DatabaseIdempotencyStore(),
        origins=OriginPolicy(),
        registry=RegistryConfig(
            vault=vault,
            indexer=indexer,
            blobs=LocalBlobStore(settings.data_dir / "blobs"),
            age_rule=settings.age_rule,
            max_file_bytes=settings.limits.file_bytes,
            provider_pending_limit_s=settings.identity_provider_pending_limit_s,
            identity_provider=build_identity_provider(settings),
        ),
    )
