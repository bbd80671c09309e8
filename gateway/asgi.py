"""Entry point for uvicorn: `uvicorn --factory gateway.asgi:app_factory`."""

from __future__ import annotations

from starlette.applications import Starlette

from gateway.app import create_app
from gateway.settings import load_settings


def app_factory() -> Starlette:
    return create_app(load_settings())
