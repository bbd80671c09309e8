"""Which third-party files the GraphiQL explorer needs, and where they live under the data dir.

The files are pinned by version AND by content: each carries the SRI hash of the file inside the npm
tarball. The CDN page uses it as its `integrity` attribute, and `fetch_assets` refuses a download whose
bytes differ, so a tampered mirror cannot slip code into the local explorer either.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final, Literal

__all__ = [
    "ASSET_PACKAGES",
    "MANIFEST_NAME",
    "AssetFile",
    "AssetPackage",
    "ExplorerError",
    "assets_dir",
    "assets_present",
]

MANIFEST_NAME: Final = "manifest.json"


class ExplorerError(Exception):
    """The explorer assets could not be fetched or installed; str() is one line meant for the operator."""


@dataclass(frozen=True, slots=True)
class AssetFile:
    """One file of an npm package, by its path inside the tarball's `package/` folder."""

    path: str
    integrity: str  # Subresource Integrity value ("sha384-<base64>") of the file's bytes

    def __post_init__(self) -> None:
        # Paths are joined onto the data dir; keep them plain relative POSIX paths.
        parts = PurePosixPath(self.path).parts
        if not parts or self.path.startswith("/") or ".." in parts or "\\" in self.path:
            raise ValueError(f"asset path must be relative and plain: {self.path!r}")

    @property
    def kind(self) -> Literal["script", "style"] | None:
        """How the page loads the file; None for files only kept alongside (licences)."""
        suffix = PurePosixPath(self.path).suffix
        if suffix == ".js":
            return "script"
        return "style" if suffix == ".css" else None


@dataclass(frozen=True, slots=True)
class AssetPackage:
    name: str
    version: str
    files: tuple[AssetFile, ...]

    @property
    def spec(self) -> str:
        """`name@version`: what npm is asked for, and the folder (and URL segment) the files go to."""
        return f"{self.name}@{self.version}"


# React 19 ships no UMD build and GraphiQL 4+ needs a bundler, so these are the newest versions that a
# plain <script> tag can load. graphiql 3.8.3 is also the version Strawberry's own page uses. Order is
# load order: React, then ReactDOM, then GraphiQL (its UMD bundle reads window.React/ReactDOM).
ASSET_PACKAGES: Final[tuple[AssetPackage, ...]] = (
    AssetPackage(
        "react",
        "18.3.1",
        (
            AssetFile(
                "umd/react.production.min.js",
                "sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z",
            ),
            AssetFile("LICENSE", "sha384-dIN5gxuW3odCH42AKpxql36fRQlrVsjCi4EJgGC2Ty8Ihkcq9cdrChEZpKhSAfks"),
        ),
    ),
    AssetPackage(
        "react-dom",
        "18.3.1",
        (
            AssetFile(
                "umd/react-dom.production.min.js",
                "sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1",
            ),
            AssetFile("LICENSE", "sha384-dIN5gxuW3odCH42AKpxql36fRQlrVsjCi4EJgGC2Ty8Ihkcq9cdrChEZpKhSAfks"),
        ),
    ),
    AssetPackage(
        "graphiql",
        "3.8.3",
        (
            AssetFile(
                "graphiql.min.css",
                "sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
            ),
            AssetFile(
                "graphiql.min.js",
                "sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
            ),
            AssetFile("LICENSE", "sha384-9JPX1agGTIUB7wtQt2kO3PUO7clmCJp+9e50VMjw1yd8briI77AZnMDBz5VcerBH"),
        ),
    ),
)


def assets_dir(data_dir: Path) -> Path:
    """Where fetched assets live: `<data dir>/explorer/<name>@<version>/<path>`."""
    return data_dir / "explorer"


def assets_present(data_dir: Path) -> bool:
    """True when the manifest lists exactly the pinned packages and every file is there."""
    root = assets_dir(data_dir)
    try:
        manifest = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
        listed = {(entry["package"], entry["version"], tuple(sorted(entry["files"]))) for entry in manifest["packages"]}
    except (OSError, ValueError, TypeError, KeyError):
        return False
    wanted = {(p.name, p.version, tuple(sorted(f.path for f in p.files))) for p in ASSET_PACKAGES}
    if listed != wanted:
        # Another pin (an upgrade of the gateway) means the fetched copy is stale.
        return False
    return all((root / p.spec / f.path).is_file() for p in ASSET_PACKAGES for f in p.files)
