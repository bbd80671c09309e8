"""GraphiQL explorer that works offline: assets fetched with npm into the data dir, served same-origin.

Wiring (in the app): `Mount("/_explorer", app=static_app(data_dir))`, and for `GET /graphql` return
`render_page(local=assets_present(data_dir))`, with the `LOCAL_PAGE_CSP` header on the local page.
"""

from gateway.explorer.assets import ASSET_PACKAGES, AssetFile, AssetPackage, ExplorerError, assets_dir, assets_present
from gateway.explorer.fetch import fetch_assets
from gateway.explorer.page import LOCAL_PAGE_CSP, render_page
from gateway.explorer.static import static_app

__all__ = [
    "ASSET_PACKAGES",
    "LOCAL_PAGE_CSP",
    "AssetFile",
    "AssetPackage",
    "ExplorerError",
    "assets_dir",
    "assets_present",
    "fetch_assets",
    "render_page",
    "static_app",
]
