"""The `livegate` command: serve, migrate, platforms, keys and the explorer assets.

Every failure an operator can cause (bad configuration, unreachable database, invalid input)
ends with one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import typer
from tortoise.exceptions import DBConnectionError, OperationalError

from gateway import explorer
from gateway.auth.keys import rotate_dev_keys
from gateway.keyfiles import keys_dir, load_keyring, rotate_keyring, write_private
from gateway.runtime import MAX_TOKEN_LIFETIME, ensure_data_dir
from gateway.settings import ConfigError, Settings, load_settings
from registry.crypto import Vault
from registry.migrate import apply_migrations, orm
from registry.platforms import services as platforms
from registry.problems import DomainError
from registry.rotation import reencrypt_all

app = typer.Typer(
    help="livegate: onboarding and verification gateway for live-commerce platforms.", add_completion=False
)
platform_app = typer.Typer(help="Create and change platforms (tenants).", no_args_is_help=True)
keys_app = typer.Typer(help="Rotate token-signing and data keys.", no_args_is_help=True)
explorer_app = typer.Typer(help="The GraphiQL schema explorer.", no_args_is_help=True)
app.add_typer(platform_app, name="platform")
app.add_typer(keys_app, name="keys")
app.add_typer(explorer_app, name="explorer")

DEMO_PLATFORM = "demo"


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"livegate: {message}", err=True)
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        loaded = load_settings()
        ensure_data_dir(loaded.data_dir)
    except ConfigError as exc:
        fail(str(exc), 2)
    return loaded


def _where(database_url: str) -> str:
    parts = urlsplit(database_url)
    return (parts.hostname and f"{parts.hostname}:{parts.port or 5432}") or database_url.split("?")[0]


T = TypeVar("T")


def run_db(config: Settings, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a database task; connection problems become one line naming the database (no password)."""
    try:
        return asyncio.run(work())
    except DomainError as exc:
        fail("; ".join(p.message for p in exc.problems))
    except (DBConnectionError, OperationalError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        fail(f"cannot use the database at {_where(config.database_url)}: {reason}")


def migrate_database(config: Settings) -> None:
    run_db(config, lambda: apply_migrations(config.database_url))


@app.command()
def migrate() -> None:
    """Apply pending migrations and exit."""
    config = settings()
    migrate_database(config)
    typer.echo("migrations applied")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Apply pending migrations, then serve the gateway with uvicorn."""
    import uvicorn

    config = settings()
    if workers > 1 and config.is_sqlite:
        fail("several workers need PostgreSQL (SQLite allows one writer); use --workers 1", 2)
    migrate_database(config)
    try:
        from gateway.runtime import build_runtime

        build_runtime(config)  # fail here, in one line, rather than inside a worker
    except ConfigError as exc:
        fail(str(exc), 2)
    uvicorn.run("gateway.asgi:app_factory", factory=True, host=host, port=port, workers=workers, log_level="info")


def _print_client(result: platforms.NewClient, as_json: bool) -> None:
    if as_json:
        payload = {
            "platform_id": result.platform.id,
            "client_id": result.platform.client_id,
            "client_secret": result.client_secret,
        }
        typer.echo(json.dumps(payload))
        return
    typer.echo(f"platform_id:   {result.platform.id}")
    typer.echo(f"client_id:     {result.platform.client_id}")
    typer.echo(f"client_secret: {result.client_secret}   (shown once; store it now)")
    typer.echo(f"scopes:        {result.platform.scopes}")


ScopesOption = Annotated[
    str | None, typer.Option("--scopes", help="Space-separated scopes (default: all but blacklist:joint).")
]
AgeOption = Annotated[int | None, typer.Option("--minimum-age", help="16, 17 or 18.")]
OriginOption = Annotated[
    list[str] | None, typer.Option("--allowed-origin", help="Browser origin allowed to call the API (repeatable).")
]


@platform_app.command("create")
def platform_create(
    name: Annotated[str, typer.Option("--name", help="Unique platform name.")],
    scopes: ScopesOption = None,
    minimum_age: AgeOption = None,
    allowed_origin: OriginOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create a platform with its OAuth client; the client secret is shown once."""
    config = settings()
    migrate_database(config)

    async def work() -> platforms.NewClient:
        async with orm(config.database_url):
            return await platforms.create_platform(
                name, scopes=scopes, minimum_age=minimum_age or 16, allowed_origins=allowed_origin or ()
            )

    _print_client(run_db(config, work), as_json)


@platform_app.command("update")
def platform_update(
    platform_id: Annotated[str, typer.Argument(help="The platform id (plt_...).")],
    scopes: ScopesOption = None,
    minimum_age: AgeOption = None,
    allowed_origin: OriginOption = None,
) -> None:
    """Change a platform's scopes, minimum age or allowed origins."""
    config = settings()
    migrate_database(config)

    async def work() -> None:
        async with orm(config.database_url):
            platform = await platforms.update_platform(
                platform_id, scopes=scopes, minimum_age=minimum_age, allowed_origins=allowed_origin
            )
            typer.echo(f"updated {platform.id}: scopes={platform.scopes!r} minimum_age={platform.minimum_age}")

    run_db(config, work)


@platform_app.command("demo")
def platform_demo() -> None:
    """Development: create the demo platform once and print its credentials (kept in the data dir)."""
    config = settings()
    if config.env.value == "prod":
        fail("the demo platform is for development only", 2)
    stored = keys_dir(config.data_dir) / "demo-client.json"
    migrate_database(config)

    async def work() -> dict[str, str]:
        async with orm(config.database_url):
            existing = await platforms.find_by_name(DEMO_PLATFORM)
            if existing is not None and stored.exists():
                return json.loads(stored.read_text())
            if existing is not None:
                fail(f"a platform named {DEMO_PLATFORM!r} exists but its secret is not in {stored}")
            created = await platforms.create_platform(DEMO_PLATFORM)
            record = {
                "platform_id": created.platform.id,
                "client_id": created.platform.client_id,
                "client_secret": created.client_secret,
            }
            write_private(stored, json.dumps(record))
            return record

    record = run_db(config, work)
    typer.echo("Demo platform (development only):")
    for key, value in record.items():
        typer.echo(f"  {key}: {value}")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new token-signing key and make it current; older keys verify until their tokens expire."""
    config = settings()
    if config.signing_keys:
        fail("signing keys come from LIVEGATE_SIGNING_KEYS: put the new key first there and restart", 2)
    key = rotate_dev_keys(config.data_dir, keep_for=MAX_TOKEN_LIFETIME + timedelta(minutes=5))
    typer.echo(f"new current signing key {key.kid}; restart the gateway processes to use it")


@keys_app.command("rotate-data")
def keys_rotate_data() -> None:
    """Re-encrypt stored personal data under the current data key."""
    config = settings()
    if config.data_keys:
        keyring_source = "LIVEGATE_DATA_KEYS (its first key is current)"
        keyring = load_keyring(config.data_keys, config.data_dir, "data-keys")
    else:
        keyring = rotate_keyring(config.data_dir, "data-keys")
        keyring_source = f"a new development key {keyring.current[0]}"
    migrate_database(config)

    async def work() -> int:
        async with orm(config.database_url):
            return await reencrypt_all(Vault(keyring))

    count = run_db(config, work)
    typer.echo(f"re-encrypted {count} values under {keyring_source}")


@explorer_app.command("fetch-assets")
def explorer_fetch_assets(
    if_missing: Annotated[bool, typer.Option("--if-missing", help="Do nothing when the assets are there.")] = False,
) -> None:
    """Fetch the GraphiQL and React bundles with npm into the data dir (served same-origin)."""
    config = settings()
    if if_missing and explorer.assets_present(config.data_dir):
        typer.echo(f"explorer assets present in {explorer.assets_dir(config.data_dir)}")
        return
    try:
        files = explorer.fetch_assets(config.data_dir)
    except explorer.ExplorerError as exc:
        fail(str(exc))
    typer.echo(f"explorer assets ready: {len(files)} files in {explorer.assets_dir(config.data_dir)}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
