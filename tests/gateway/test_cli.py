"""The `livegate` command as an operator runs it: a real process, one line per failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def livegate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIVEGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args], env=clean | env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"LIVEGATE_DATA_DIR": str(tmp_path / "data")}


def test_platform_create_json_prints_exactly_the_credentials(env: dict[str, str]) -> None:
    result = livegate("platform", "create", "--name", "acme", "--json", env=env)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {"platform_id", "client_id", "client_secret"}
    assert payload["platform_id"].startswith("plt_") and len(payload["client_secret"]) >= 40
    again = livegate("platform", "create", "--name", "acme", "--json", env=env)
    assert again.returncode == 1 and again.stderr.strip() == "livegate: a platform named 'acme' exists"


def test_platform_update_and_validation(env: dict[str, str]) -> None:
    created = json.loads(livegate("platform", "create", "--name", "acme", "--json", env=env).stdout)
    updated = livegate("platform", "update", created["platform_id"], "--minimum-age", "18", env=env)
    assert updated.returncode == 0 and "minimum_age=18" in updated.stdout
    refused = livegate("platform", "update", created["platform_id"], "--scopes", "root", env=env)
    assert refused.returncode == 1 and refused.stderr.strip() == "livegate: unknown scope 'root'"


def test_demo_platform_is_created_once_and_printed_each_time(env: dict[str, str]) -> None:
    first = livegate("platform", "demo", env=env)
    second = livegate("platform", "demo", env=env)
    assert first.returncode == 0 and first.stdout == second.stdout and "client_secret" in first.stdout


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"LIVEGATE_ENV": "qa"}, "LIVEGATE_ENV='qa' is not one of"),
        ({"LIVEGATE_DATA_DIR": "/proc/livegate"}, "is not writable"),
        ({"LIVEGATE_DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}, "cannot use the database at 127.0.0.1:1"),
    ],
)
def test_bad_configuration_stops_with_one_line(env: dict[str, str], extra: dict[str, str], needle: str) -> None:
    result = livegate("migrate", env=env | extra)
    assert result.returncode != 0
    assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
