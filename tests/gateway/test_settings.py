from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import ConfigError, Env, load_settings
from registry.validators.age import AgeRule


def test_defaults_are_development_on_sqlite(tmp_path: Path) -> None:
    settings = load_settings({"LIVEGATE_DATA_DIR": str(tmp_path)})
    assert settings.env is Env.DEV
    assert settings.database_url == f"sqlite://{tmp_path.resolve()}/livegate.sqlite3"
    assert settings.age_rule is AgeRule.DAY_AFTER
    assert settings.limits.body_bytes == 20 * 1024 * 1024 and settings.limits.page == 100
    assert settings.explorer is True


def test_every_limit_has_its_variable() -> None:
    names = ["BODY_BYTES", "FILE_BYTES", "DEPTH", "ALIASES", "TOKENS", "BATCH", "PAGE", "IMPORT_ROWS", "RATE_BURST"]
    env = {f"LIVEGATE_LIMITS_{name}": str(7 + i) for i, name in enumerate(names)} | {
        "LIVEGATE_LIMITS_RATE_PER_S": "2.5"
    }
    limits = load_settings(env).limits
    assert (limits.body_bytes, limits.depth, limits.rate_burst, limits.rate_per_s) == (7, 9, 15, 2.5)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LIVEGATE_ENV": "staging"}, "LIVEGATE_ENV='staging' is not one of: dev, prod"),
        ({"LIVEGATE_AGE_RULE": "WHENEVER"}, "LIVEGATE_AGE_RULE='WHENEVER' is not one of: DAY_AFTER, ON_BIRTHDAY"),
        ({"LIVEGATE_LIMITS_DEPTH": "deep"}, "LIVEGATE_LIMITS_DEPTH='deep' is not a whole number"),
        ({"LIVEGATE_LIMITS_PAGE": "0"}, "LIVEGATE_LIMITS_PAGE='0' must be at least 1"),
        ({"LIVEGATE_DATABASE_URL": "mysql://x"}, "must be a sqlite:// or postgres:// URL"),
        ({"LIVEGATE_EXPLORE": "1"}, "unknown setting LIVEGATE_EXPLORE"),
        ({"LIVEGATE_IDENTITY_PROVIDER": "http"}, "needs LIVEGATE_IDENTITY_PROVIDER_URL"),
        ({"LIVEGATE_ENV": "prod"}, "SQLite is for development"),
        (
            {"LIVEGATE_ENV": "prod", "LIVEGATE_DATABASE_URL": "postgres://db/x"},
            "LIVEGATE_SIGNING_KEYS: generated development keys are refused",
        ),
    ],
)
def test_bad_configuration_is_one_clear_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_prod_with_everything_configured_turns_the_explorer_off() -> None:
    env = {
        "LIVEGATE_ENV": "prod",
        "LIVEGATE_DATABASE_URL": "postgresql://db/x",
        "LIVEGATE_SIGNING_KEYS": "/etc/livegate/signing.pem",
        "LIVEGATE_DATA_KEYS": "k1:AAAA",
        "LIVEGATE_INDEX_KEYS": "k1:AAAA",
    }
    settings = load_settings(env)
    assert settings.explorer is False and settings.database_url == "postgres://db/x"
    assert load_settings(env | {"LIVEGATE_EXPLORER": "1"}).explorer is True


async def test_introspection_is_off_without_the_explorer(tmp_path: Path) -> None:
    from gateway.runtime import build_graphql_schema
    from schema.context import Context

    query = "{ __schema { queryType { name } } }"
    on, on_documents = build_graphql_schema(load_settings({"LIVEGATE_DATA_DIR": str(tmp_path)}))
    assert (await on.execute(query, context_value=Context(request_id="t", principal=None))).errors is None
    assert on_documents.get(query) is not None
    off, off_documents = build_graphql_schema(
        load_settings({"LIVEGATE_DATA_DIR": str(tmp_path), "LIVEGATE_EXPLORER": "0"})
    )
    result = await off.execute(query, context_value=Context(request_id="t", principal=None))
    assert result.errors and "introspection" in result.errors[0].message.lower()
    assert off_documents.get(query) is None  # never prepared: only the checked path may answer it
