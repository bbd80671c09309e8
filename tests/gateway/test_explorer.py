"""The offline GraphiQL explorer: page, asset fetching with npm, and the static file app."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sys
import textwrap
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from gateway.explorer import (
    ASSET_PACKAGES,
    LOCAL_PAGE_CSP,
    ExplorerError,
    assets_dir,
    assets_present,
    fetch_assets,
    render_page,
    static_app,
)

PREFIX = "/_explorer"
posix_only = pytest.mark.skipif(os.name != "posix", reason="the fake npm is a POSIX script")


class _Tags(HTMLParser):
    """Collects every tag with its attributes, and the text inside each <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_bodies: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.script_bodies.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_bodies[-1] += data


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    return parser


def _urls(parsed: _Tags) -> list[str]:
    return [value for _, attrs in parsed.tags for name, value in attrs.items() if name in ("src", "href") and value]


def _pinned_files() -> list[tuple[str, str, str]]:
    """(spec, path, integrity) of every file the page loads."""
    return [(p.spec, f.path, f.integrity) for p in ASSET_PACKAGES for f in p.files if f.kind]


# --- the page -----------------------------------------------------------------------------------


def test_local_page_references_only_same_origin_urls() -> None:
    parsed = _parse(render_page(local=True))
    urls = _urls(parsed)
    assert urls
    for url in urls:
        assert "http://" not in url and "https://" not in url, url
        assert not url.startswith("//"), url
        assert url.startswith("/") or url == "data:,", url


def test_local_page_has_no_inline_script_or_style() -> None:
    page = render_page(local=True)
    parsed = _parse(page)
    assert parsed.script_bodies, "the page loads scripts"
    assert all(body.strip() == "" for body in parsed.script_bodies)
    assert all(attrs.get("src") for tag, attrs in parsed.tags if tag == "script")
    assert "<style" not in page
    assert all("style" not in attrs for _, attrs in parsed.tags)
    assert not any(name.startswith("on") for _, attrs in parsed.tags for name in attrs)


def test_local_page_loads_every_pinned_file_and_the_init_script() -> None:
    urls = _urls(_parse(render_page(local=True)))
    for spec, path, _ in _pinned_files():
        assert f"{PREFIX}/{spec}/{path}" in urls
    assert f"{PREFIX}/explorer.js" in urls
    assert f"{PREFIX}/explorer.css" in urls


def test_scripts_load_react_before_graphiql_before_the_init_script() -> None:
    parsed = _parse(render_page(local=True))
    scripts = [attrs["src"] or "" for tag, attrs in parsed.tags if tag == "script"]
    assert [s.rsplit("/", 1)[-1] for s in scripts] == [
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql.min.js",
        "explorer.js",
    ]


def test_local_page_carries_its_csp_in_a_meta_tag() -> None:
    parsed = _parse(render_page(local=True))
    metas = [attrs for tag, attrs in parsed.tags if tag == "meta" and attrs.get("http-equiv")]
    assert len(metas) == 1
    content = metas[0]["content"] or ""
    assert content.startswith("default-src 'self';")
    # frame-ancestors only works as a header; everything else matches the header value.
    header_directives: set[str] = set(LOCAL_PAGE_CSP.split("; "))
    assert set(content.split("; ")) == header_directives - {"frame-ancestors 'none'"}


def test_local_page_csp_allows_no_script_outside_the_origin() -> None:
    directives = {name: value for name, _, value in (part.partition(" ") for part in LOCAL_PAGE_CSP.split("; "))}
    assert directives["default-src"] == "'self'"
    assert "script-src" not in directives  # scripts fall back to 'self' only: no inline, no eval
    assert "connect-src" not in directives  # fetch() to /graphql only


def test_cdn_page_pins_versions_with_integrity() -> None:
    parsed = _parse(render_page(local=False))
    third_party = {
        (attrs.get("src") or attrs.get("href") or ""): attrs
        for tag, attrs in parsed.tags
        if tag in ("script", "link") and (attrs.get("src") or attrs.get("href") or "").startswith("https://")
    }
    assert len(third_party) == len(_pinned_files())
    for spec, path, integrity in _pinned_files():
        [attrs] = [a for url, a in third_party.items() if url.endswith(f"/{spec}/{path}")]
        assert "@" in spec and spec.split("@")[-1][0].isdigit()  # an exact version, not a range or tag
        assert attrs["integrity"] == integrity
        assert attrs["crossorigin"] == "anonymous"
        assert attrs["referrerpolicy"] == "no-referrer"
    assert "Content-Security-Policy" not in render_page(local=False)


def test_cdn_page_still_loads_the_init_script_from_the_gateway() -> None:
    urls = _urls(_parse(render_page(local=False)))
    assert f"{PREFIX}/explorer.js" in urls


def test_paths_are_configurable_and_escaped() -> None:
    page = render_page(local=True, graphql_path="/api/graphql", assets_prefix="/static/gql/")
    assert 'data-graphql-path="/api/graphql"' in page
    assert 'src="/static/gql/explorer.js"' in page
    assert "&amp;" in render_page(local=True, graphql_path="/graphql?a=1&b=2")


@pytest.mark.parametrize("path", ["//cdn.example/x", "https://cdn.example", "/\\cdn.example", "graphql", '/a"b', ""])
def test_page_refuses_paths_that_leave_the_origin(path: str) -> None:
    with pytest.raises(ValueError, match="same-origin"):
        render_page(local=True, graphql_path=path)
    with pytest.raises(ValueError, match="same-origin"):
        render_page(local=True, assets_prefix=path)


def test_init_script_posts_json_with_editor_headers_and_no_cookies() -> None:
    script = files("gateway.explorer").joinpath("explorer.js").read_text(encoding="utf-8")
    assert 'method: "POST"' in script
    assert 'credentials: "omit"' in script
    assert 'defaultEditorToolsVisibility: "headers"' in script
    assert "shouldPersistHeaders: false" in script
    # Nothing opens a websocket or rewrites the page URL (where headers would leak: CVE-2026-45739).
    for forbidden in ("WebSocket", "subscriptionUrl", "history.", "location.search", "document.cookie"):
        assert forbidden not in script


# --- fetching with npm --------------------------------------------------------------------------


def test_fetch_assets_without_npm_says_so_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ExplorerError) as caught:
        fetch_assets(tmp_path, npm="/nonexistent")
    message = str(caught.value)
    assert message.startswith("npm was not found")
    assert "CDN" in message
    assert "\n" not in message
    assert not assets_present(tmp_path)


def test_fetch_assets_default_message_names_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ExplorerError, match=r"^npm was not found on PATH; the explorer will load its scripts from"):
        fetch_assets(tmp_path)


def _fake_npm(tmp_path: Path, body: str) -> str:
    """An executable standing in for npm: `body` is Python run with argv as npm would get it."""
    script = tmp_path / "fake-npm"
    script.write_text(f"#!{sys.executable}\nimport sys, tarfile, io, pathlib\n{textwrap.dedent(body)}")
    script.chmod(0o755)
    return str(script)


_TARBALL_WRITER = """
    destination = pathlib.Path(sys.argv[sys.argv.index("--pack-destination") + 1])
    def add(archive, name, data=b"", kind=tarfile.REGTYPE, link=""):
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.size = kind, link, len(data)
        archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    with tarfile.open(destination / "fake-1.0.0.tgz", "w:gz") as archive:
"""


@posix_only
def test_fetch_assets_reports_npm_failure_reason(tmp_path: Path) -> None:
    npm = _fake_npm(
        tmp_path,
        """
        sys.stderr.write(
            "npm error code ETARGET\\n"
            "npm error notarget No matching version found for react@18.3.1.\\n"
            "npm error A complete log of this run can be found in: /x.log\\n"
        )
        sys.exit(1)
        """,
    )
    with pytest.raises(ExplorerError) as caught:
        fetch_assets(tmp_path / "data", npm=npm)
    assert str(caught.value) == "npm pack react@18.3.1 failed: notarget No matching version found for react@18.3.1."


@posix_only
def test_fetch_assets_refuses_files_that_differ_from_the_pins(tmp_path: Path) -> None:
    npm = _fake_npm(
        tmp_path,
        _TARBALL_WRITER
        + """
        add(archive, "package/umd/react.production.min.js", b"alert('not react')")
        add(archive, "package/LICENSE", b"MIT")
        add(archive, "package/../../escaped.txt", b"outside")
        """,
    )
    data_dir = tmp_path / "data"
    with pytest.raises(ExplorerError, match=r"react@18\.3\.1: umd/react\.production\.min\.js does not match"):
        fetch_assets(data_dir, npm=npm)
    assert not list(tmp_path.rglob("escaped.txt"))
    assert list(data_dir.iterdir()) == []  # no half-built folder left behind


@posix_only
def test_fetch_assets_refuses_links_in_the_tarball(tmp_path: Path) -> None:
    npm = _fake_npm(
        tmp_path,
        _TARBALL_WRITER
        + """
        add(archive, "package/umd/react.production.min.js", kind=tarfile.SYMTYPE, link="/etc/passwd")
        add(archive, "package/LICENSE", b"MIT")
        """,
    )
    with pytest.raises(ExplorerError, match="is not a regular file"):
        fetch_assets(tmp_path / "data", npm=npm)


@posix_only
def test_failed_fetch_keeps_the_previous_installation(tmp_path: Path) -> None:
    npm = _fake_npm(tmp_path, "sys.exit(1)\n")
    previous = assets_dir(tmp_path / "data") / "keep.txt"
    previous.parent.mkdir(parents=True)
    previous.write_text("old")
    with pytest.raises(ExplorerError, match="failed: exit status 1"):
        fetch_assets(tmp_path / "data", npm=npm)
    assert previous.read_text() == "old"
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["explorer"]


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not on PATH; the explorer would use the CDN page")
def test_fetch_assets_with_npm(tmp_path: Path) -> None:
    installed = fetch_assets(tmp_path)
    root = assets_dir(tmp_path)
    assert installed[-1] == root / "manifest.json"
    assert assets_present(tmp_path)
    manifest = json.loads((root / "manifest.json").read_text())
    assert [(e["package"], e["version"]) for e in manifest["packages"]] == [(p.name, p.version) for p in ASSET_PACKAGES]
    for package, entry in zip(ASSET_PACKAGES, manifest["packages"], strict=True):
        for asset in package.files:
            content = (root / package.spec / asset.path).read_bytes()
            assert entry["files"][asset.path] == hashlib.sha256(content).hexdigest()
            assert asset.integrity == "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()
    # Only the pinned files (plus the manifest) were kept from the tarballs.
    on_disk = sorted(p for p in root.rglob("*") if p.is_file())
    assert on_disk == sorted(installed)
    # A second fetch replaces the folder and leaves nothing else in the data dir.
    fetch_assets(tmp_path)
    assert assets_present(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["explorer"]


def _write_fake_assets(data_dir: Path) -> None:
    root = assets_dir(data_dir)
    entries = []
    for package in ASSET_PACKAGES:
        digests = {}
        for asset in package.files:
            target = root / package.spec / asset.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"/* {package.spec} {asset.path} */")
            digests[asset.path] = hashlib.sha256(target.read_bytes()).hexdigest()
        entries.append({"package": package.name, "version": package.version, "files": digests})
    (root / "manifest.json").write_text(json.dumps({"packages": entries}))


def test_assets_present_follows_the_manifest_and_files(tmp_path: Path) -> None:
    assert not assets_present(tmp_path)
    _write_fake_assets(tmp_path)
    assert assets_present(tmp_path)
    first = ASSET_PACKAGES[0]
    (assets_dir(tmp_path) / first.spec / first.files[0].path).unlink()
    assert not assets_present(tmp_path)


def test_assets_present_is_false_for_another_pinned_version(tmp_path: Path) -> None:
    _write_fake_assets(tmp_path)
    manifest_path = assets_dir(tmp_path) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["packages"][0]["version"] = "0.0.1"
    manifest_path.write_text(json.dumps(manifest))
    assert not assets_present(tmp_path)


# --- serving ------------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    _write_fake_assets(data)
    (data / "secret.txt").write_text("not for browsers")
    return data


def _client(data_dir: Path) -> httpx.AsyncClient:
    app = Starlette(routes=[Mount(PREFIX, app=static_app(data_dir))])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("react@18.3.1/umd/react.production.min.js", "text/javascript; charset=utf-8"),
        ("react-dom@18.3.1/umd/react-dom.production.min.js", "text/javascript; charset=utf-8"),
        ("graphiql@3.8.3/graphiql.min.js", "text/javascript; charset=utf-8"),
        ("graphiql@3.8.3/graphiql.min.css", "text/css; charset=utf-8"),
    ],
)
async def test_serves_fetched_assets_with_type_nosniff_and_long_cache(
    data_dir: Path, path: str, content_type: str
) -> None:
    async with _client(data_dir) as client:
        response = await client.get(f"{PREFIX}/{path}")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.text == (assets_dir(data_dir) / path).read_text()


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("explorer.js", "text/javascript; charset=utf-8"), ("explorer.css", "text/css; charset=utf-8")],
)
async def test_serves_first_party_files_from_the_package(data_dir: Path, name: str, content_type: str) -> None:
    async with _client(data_dir) as client:
        response = await client.get(f"{PREFIX}/{name}")
        again = await client.get(f"{PREFIX}/{name}", headers={"If-None-Match": response.headers["etag"]})
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-cache"
    assert response.content == files("gateway.explorer").joinpath(name).read_bytes()
    assert again.status_code == 304


async def test_first_party_files_are_served_without_fetched_assets(tmp_path: Path) -> None:
    async with _client(tmp_path / "never-fetched") as client:
        script = await client.get(f"{PREFIX}/explorer.js")
        bundle = await client.get(f"{PREFIX}/graphiql@3.8.3/graphiql.min.js")
    assert script.status_code == 200
    assert bundle.status_code == 404  # not a 500 for the missing folder
    assert bundle.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/react@18.3.1/..%2f..%2fsecret.txt",
        "/react@18.3.1/%2e%2e/%2e%2e/secret.txt",
        "/%2fetc%2fpasswd",
        "/..%5csecret.txt",
        "/__init__.py",
        "/page.py",
        "/page.html",
        "/secret.txt",
    ],
)
async def test_refuses_paths_outside_the_assets(data_dir: Path, path: str) -> None:
    async with _client(data_dir) as client:
        response = await client.get(f"{PREFIX}{path}")
    assert response.status_code == 404
    assert "not for browsers" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_only_get_and_head_are_allowed(data_dir: Path) -> None:
    async with _client(data_dir) as client:
        head = await client.head(f"{PREFIX}/graphiql@3.8.3/graphiql.min.js")
        post = await client.post(f"{PREFIX}/graphiql@3.8.3/graphiql.min.js")
    assert head.status_code == 200
    assert post.status_code == 405


async def test_works_standalone_without_a_parent_app(data_dir: Path) -> None:
    transport = httpx.ASGITransport(app=static_app(data_dir))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        found = await client.get("/graphiql@3.8.3/graphiql.min.css")
        missing = await client.get("/nothing-here.js")
    assert found.status_code == 200
    assert missing.status_code == 404
    assert missing.headers["x-content-type-options"] == "nosniff"
