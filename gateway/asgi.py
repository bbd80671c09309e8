"""Entry point for uvicorn: `uvicorn --factory gateway.asgi:app_factory`."""

from __future__ import annotations

import gc

from starlette.applications import Starlette

from gateway.app import create_app
from gateway.settings import load_settings


def app_factory() -> Starlette:
    app = create_app(load_settings())
    # What is built by now (modules, the schema, numbering plans, dictionaries) lives as long as the
    # worker: frozen, it is no longer walked by every full collection. A 1,000-row import allocates tens
    # of thousands of objects per call, and with the default thresholds the full collections that
    # followed cost about a quarter of the gateway's CPU (scripts/bench.py import). Full collections run
    # ten times less often: they walk every batch in flight, and most garbage dies by reference count.
    gc.collect()
    gc.freeze()
    gc.set_threshold(700, 10, 100)
    return app
