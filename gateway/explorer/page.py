"""The HTML page served at `GET /graphql` for browsers.

`local=True` references only same-origin files (fetched assets plus our own init script and
stylesheet), so the page makes no request that leaves the gateway. `local=False` is the fallback for
machines without npm: the same files from a public CDN, pinned by version and SRI hash.
"""

from __future__ import annotations

import html
from importlib.resources import files
from string import Template
from typing import Final

from gateway.explorer.assets import ASSET_PACKAGES, AssetFile, AssetPackage

__all__ = ["CDN_BASE_URL", "FIRST_PARTY_FILES", "LOCAL_PAGE_CSP", "render_page"]

# What the local page needs, verified in headless Chromium:
# - 'unsafe-inline' styles: GraphiQL's dialogs (react-remove-scroll) add <style> elements at run time;
# - data: fonts: graphiql.min.css embeds its fonts as data: URLs; data: image for the empty favicon;
# - no 'unsafe-inline' or 'unsafe-eval' script: the init script is a file and no bundle evals.
LOCAL_PAGE_CSP: Final = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
CDN_BASE_URL: Final = "https://unpkg.com"
# Our own files, served from the package by static_app under the assets prefix.
FIRST_PARTY_FILES: Final = ("explorer.css", "explorer.js")

_TEMPLATE: Final = Template(files("gateway.explorer").joinpath("page.html").read_text(encoding="utf-8"))
# A <meta> CSP cannot carry frame-ancestors (browsers ignore it there); the header version does.
_META_CSP: Final = "; ".join(part for part in LOCAL_PAGE_CSP.split("; ") if not part.startswith("frame-ancestors"))


def render_page(*, local: bool, graphql_path: str = "/graphql", assets_prefix: str = "/_explorer") -> str:
    """Return the explorer page; `graphql_path` and `assets_prefix` must be same-origin absolute paths."""
    prefix = _same_origin_path(assets_prefix).rstrip("/")
    endpoint = _same_origin_path(graphql_path)
    assets = [(package, asset) for package in ASSET_PACKAGES for asset in package.files if asset.kind]
    styles = [_third_party_tag(p, a, prefix, local) for p, a in assets if a.kind == "style"]
    scripts = [_third_party_tag(p, a, prefix, local) for p, a in assets if a.kind == "script"]
    styles.append(_stylesheet(f"{prefix}/explorer.css"))
    scripts.append(_script(f"{prefix}/explorer.js"))
    csp_meta = f'\n    <meta http-equiv="Content-Security-Policy" content="{_META_CSP}" />' if local else ""
    return _TEMPLATE.substitute(
        csp_meta=csp_meta,
        styles="\n".join(f"    {tag}" for tag in styles),
        scripts="\n".join(f"    {tag}" for tag in scripts),
        graphql_path=html.escape(endpoint, quote=True),
    )


def _same_origin_path(path: str) -> str:
    # "//host/x" is protocol-relative and "/\host" is read as it by browsers: both leave the origin.
    if not path.startswith("/") or path.startswith(("//", "/\\")) or any(c in path for c in "\"'<> \t\r\n"):
        raise ValueError(f"expected a same-origin absolute path such as /graphql, got {path!r}")
    return path


def _third_party_tag(package: AssetPackage, asset: AssetFile, prefix: str, local: bool) -> str:
    if local:
        url = f"{prefix}/{package.spec}/{asset.path}"
        return _stylesheet(url) if asset.kind == "style" else _script(url)
    # crossorigin makes the browser check `integrity`; no-referrer keeps our URL from the CDN.
    extra = f'integrity="{asset.integrity}" crossorigin="anonymous" referrerpolicy="no-referrer"'
    url = f"{CDN_BASE_URL}/{package.spec}/{asset.path}"
    return _stylesheet(url, extra) if asset.kind == "style" else _script(url, extra)


def _stylesheet(url: str, extra: str = "") -> str:
    return f'<link rel="stylesheet" href="{html.escape(url, quote=True)}"{_space(extra)} />'


def _script(url: str, extra: str = "") -> str:
    return f'<script src="{html.escape(url, quote=True)}"{_space(extra)}></script>'


def _space(extra: str) -> str:
    return f" {extra}" if extra else ""
