"""Settings from `LIVEGATE_*` environment variables (the table in contract/HTTP.md).

Every value is parsed once at start-up; a bad one stops the gateway with one clear line
(`ConfigError`), never a traceback. `prod` refuses the conveniences of `dev`: generated keys and
secrets, SQLite, and the explorer unless asked for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from registry.validators.age import AgeRule


class ConfigError(Exception):
    """A configuration problem, phrased as one line an operator can act on."""


class Env(StrEnum):
    DEV = "dev"
    PROD = "prod"


class IdentityProviderKind(StrEnum):
    LOCAL = "local"
    HTTP = "http"


@dataclass(frozen=True, slots=True)
class Limits:
    body_bytes: int = 20 * 1024 * 1024
    file_bytes: int = 8 * 1024 * 1024
    depth: int = 12
    aliases: int = 30
    tokens: int = 2000
    batch: int = 10
    page: int = 100
    import_rows: int = 1000
    rate_per_s: float = 50.0
    rate_burst: int = 100


@dataclass(frozen=True, slots=True)
class Settings:
    env: Env = Env.DEV
    data_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str | None = None
    issuer: str = "http://127.0.0.1:8000"
    signing_keys: str | None = None
    data_keys: str | None = None
    index_keys: str | None = None
    age_rule: AgeRule = AgeRule.DAY_AFTER
    identity_provider: IdentityProviderKind = IdentityProviderKind.LOCAL
    identity_provider_url: str | None = None
    identity_provider_secret: str | None = None
    identity_provider_timeout_s: float = 10.0
    identity_provider_pending_limit_s: int = 86400
    explorer: bool = True
    token_lifetime_s: int = 900
    limits: Limits = field(default_factory=Limits)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


_LIMIT_FIELDS = {
    "BODY_BYTES": "body_bytes",
    "FILE_BYTES": "file_bytes",
    "DEPTH": "depth",
    "ALIASES": "aliases",
    "TOKENS": "tokens",
    "BATCH": "batch",
    "PAGE": "page",
    "IMPORT_ROWS": "import_rows",
    "RATE_PER_S": "rate_per_s",
    "RATE_BURST": "rate_burst",
}
_KNOWN = {
    "ENV", "DATA_DIR", "DATABASE_URL", "REDIS_URL", "ISSUER", "SIGNING_KEYS", "DATA_KEYS",
    "INDEX_KEYS", "AGE_RULE", "IDENTITY_PROVIDER", "IDENTITY_PROVIDER_URL", "IDENTITY_PROVIDER_SECRET",
    "IDENTITY_PROVIDER_TIMEOUT_S", "IDENTITY_PROVIDER_PENDING_LIMIT_S", "EXPLORER", "TOKEN_LIFETIME_S",
    "TEST_POSTGRES_URL", "TEST_REDIS_URL",
    *(f"LIMITS_{name}" for name in _LIMIT_FIELDS),
}  # fmt: skip


E = TypeVar("E", bound=StrEnum)


def _choice(kind: type[E], name: str, raw: str) -> E:
    try:
        return kind(raw.strip().lower() if kind is not AgeRule else raw.strip().upper())
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise ConfigError(f"LIVEGATE_{name}={raw!r} is not one of: {allowed}") from None


def _number(name: str, raw: str, *, minimum: float, integer: bool = True) -> float:
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"LIVEGATE_{name}={raw!r} is not {kind}") from None
    if value < minimum:
        raise ConfigError(f"LIVEGATE_{name}={raw!r} must be at least {minimum:g}")
    return value


def _flag(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"LIVEGATE_{name}={raw!r} is not a yes/no value (1 or 0)")


def _database_url(raw: str | None, data_dir: Path) -> str:
    if not raw:
        return f"sqlite://{data_dir.resolve() / 'livegate.sqlite3'}"
    scheme = raw.split("://", 1)[0]
    if scheme not in {"sqlite", "postgres", "postgresql", "asyncpg", "psycopg"}:
        raise ConfigError(f"LIVEGATE_DATABASE_URL must be a sqlite:// or postgres:// URL, not {scheme}://")
    # Tortoise names the asyncpg backend "postgres"; accept the common spelling too.
    return "postgres://" + raw.split("://", 1)[1] if scheme == "postgresql" else raw


def _limits(env: Mapping[str, str]) -> Limits:
    values: dict[str, float] = {}
    for name, attr in _LIMIT_FIELDS.items():
        raw = env.get(f"LIVEGATE_LIMITS_{name}")
        if raw is not None:
            integer = attr != "rate_per_s"
            values[attr] = _number(f"LIMITS_{name}", raw, minimum=1 if integer else 0.001, integer=integer)
    return Limits(**values)  # type: ignore[arg-type]


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    unknown = sorted(k for k in env if k.startswith("LIVEGATE_") and k.removeprefix("LIVEGATE_") not in _KNOWN)
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]} (see the configuration table in README.md)")
    mode = _choice(Env, "ENV", env.get("LIVEGATE_ENV", "dev"))
    data_dir = Path(env.get("LIVEGATE_DATA_DIR", "var"))
    settings = Settings(
        env=mode,
        data_dir=data_dir,
        database_url=_database_url(env.get("LIVEGATE_DATABASE_URL"), data_dir),
        redis_url=env.get("LIVEGATE_REDIS_URL") or None,
        issuer=env.get("LIVEGATE_ISSUER", "http://127.0.0.1:8000"),
        signing_keys=env.get("LIVEGATE_SIGNING_KEYS") or None,
        data_keys=env.get("LIVEGATE_DATA_KEYS") or None,
        index_keys=env.get("LIVEGATE_INDEX_KEYS") or None,
        age_rule=_choice(AgeRule, "AGE_RULE", env.get("LIVEGATE_AGE_RULE", "DAY_AFTER")),
        identity_provider=_choice(
            IdentityProviderKind, "IDENTITY_PROVIDER", env.get("LIVEGATE_IDENTITY_PROVIDER", "local")
        ),
        identity_provider_url=env.get("LIVEGATE_IDENTITY_PROVIDER_URL") or None,
        identity_provider_secret=env.get("LIVEGATE_IDENTITY_PROVIDER_SECRET") or None,
        identity_provider_timeout_s=_number(
            "IDENTITY_PROVIDER_TIMEOUT_S",
            env.get("LIVEGATE_IDENTITY_PROVIDER_TIMEOUT_S", "10"),
            minimum=0.1,
            integer=False,
        ),
        identity_provider_pending_limit_s=int(
            _number(
                "IDENTITY_PROVIDER_PENDING_LIMIT_S",
                env.get("LIVEGATE_IDENTITY_PROVIDER_PENDING_LIMIT_S", "86400"),
                minimum=60,
            )
        ),
        explorer=_flag("EXPLORER", env.get("LIVEGATE_EXPLORER", "1" if mode is Env.DEV else "0")),
        token_lifetime_s=int(_number("TOKEN_LIFETIME_S", env.get("LIVEGATE_TOKEN_LIFETIME_S", "900"), minimum=60)),
        limits=_limits(env),
    )
    _check(settings)
    return settings


def _check(settings: Settings) -> None:
    if settings.identity_provider is IdentityProviderKind.HTTP and not (
        settings.identity_provider_url and settings.identity_provider_secret
    ):
        raise ConfigError(
            "LIVEGATE_IDENTITY_PROVIDER=http needs LIVEGATE_IDENTITY_PROVIDER_URL and LIVEGATE_IDENTITY_PROVIDER_SECRET"
        )
    if settings.env is not Env.PROD:
        return
    if settings.is_sqlite:
        raise ConfigError("LIVEGATE_ENV=prod needs LIVEGATE_DATABASE_URL=postgres://... (SQLite is for development)")
    for name in ("signing_keys", "data_keys", "index_keys"):
        if not getattr(settings, name):
            raise ConfigError(
                f"LIVEGATE_ENV=prod needs LIVEGATE_{name.upper()}: generated development keys are refused in production"
            )
