"""Fetch the explorer's third-party files with the npm client, by package name.

npm is asked only for `name@version`; which registry or mirror answers is the operator's npm
configuration (a company mirror, a proxy, a pre-seeded cache on an air-gapped machine), never ours.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import uuid
import zlib
from pathlib import Path
from typing import Final

from gateway.explorer.assets import (
    ASSET_PACKAGES,
    MANIFEST_NAME,
    AssetFile,
    AssetPackage,
    ExplorerError,
    assets_dir,
)

__all__ = ["fetch_assets"]

_NPM_TIMEOUT_S: Final = 300
_MAX_FILE_BYTES: Final = 32 * 1024 * 1024
_NO_NPM: Final = "the explorer will load its scripts from a public CDN instead"
# npm's error block starts with machine-readable lines; the first line after them says what went wrong.
_NPM_NOISE: Final = re.compile(r"^(code|errno|syscall) \S+$|^404$|^A complete log of this run")


def fetch_assets(data_dir: Path, *, npm: str | None = None) -> list[Path]:
    """Download the pinned packages, keep only the needed files and install them under `assets_dir`.

    Returns the installed files, the manifest last. Raises ExplorerError (one line) on any failure,
    leaving a previous installation untouched.
    """
    npm_path = _find_npm(npm)
    target = assets_dir(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        # Build next to the target so the final rename stays on one filesystem.
        staging = Path(tempfile.mkdtemp(prefix=".explorer-new-", dir=data_dir))
    except OSError as exc:
        raise ExplorerError(f"cannot write the explorer assets under {data_dir}: {exc.strerror}") from None
    try:
        # mkdtemp makes it 0700; the assets are public and the server may run as another user.
        staging.chmod(0o755)
        with tempfile.TemporaryDirectory(prefix="livegate-npm-") as download:
            manifest = [_install(npm_path, package, Path(download), staging) for package in ASSET_PACKAGES]
        _write_manifest(staging, manifest)
        _swap_into_place(staging, target)
    except OSError as exc:
        raise ExplorerError(f"cannot write the explorer assets to {target}: {exc.strerror}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    installed = [target / p.spec / f.path for p in ASSET_PACKAGES for f in p.files]
    return [*installed, target / MANIFEST_NAME]


def _find_npm(npm: str | None) -> str:
    found = shutil.which(npm or "npm")
    if found is None:
        where = "on PATH" if npm is None else f"at {npm}"
        raise ExplorerError(f"npm was not found {where}; {_NO_NPM}")
    return found


def _install(npm: str, package: AssetPackage, download: Path, staging: Path) -> dict[str, object]:
    """Pack one package, extract its pinned files into `staging/<spec>/` and return its manifest entry."""
    pack_dir = download / package.spec.replace("/", "__")
    pack_dir.mkdir(parents=True)
    tarball = _npm_pack(npm, package.spec, pack_dir)
    unpacked = staging / ".unpack" / package.spec
    _extract(tarball, package, unpacked)
    digests: dict[str, str] = {}
    for asset in package.files:
        source = unpacked / "package" / asset.path
        digests[asset.path] = _verify(package, asset, source.read_bytes())
        destination = staging / package.spec / asset.path
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, destination)
    shutil.rmtree(staging / ".unpack")
    return {"package": package.name, "version": package.version, "files": digests}


def _npm_pack(npm: str, spec: str, destination: Path) -> Path:
    command = [
        npm,
        "pack",
        spec,
        "--pack-destination",
        str(destination),
        # --silent would also swallow the error text we report; "error" keeps only that.
        "--loglevel=error",
        "--ignore-scripts",
        # Versions are exact, so a cached copy is as good as a fresh one (and works offline).
        "--prefer-offline",
    ]
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false"}
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            command,
            cwd=destination,
            env=env,
            capture_output=True,
            text=True,
            timeout=_NPM_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise ExplorerError(f"npm was not found at {npm}; {_NO_NPM}") from None
    except subprocess.TimeoutExpired:
        raise ExplorerError(f"npm pack {spec} did not finish within {_NPM_TIMEOUT_S} s") from None
    except OSError as exc:
        raise ExplorerError(f"could not run npm ({npm}): {exc.strerror}") from None
    if result.returncode != 0:
        raise ExplorerError(f"npm pack {spec} failed: {_npm_reason(result)}")
    tarballs = list(destination.glob("*.tgz"))
    if len(tarballs) != 1:
        raise ExplorerError(f"npm pack {spec} did not produce one tarball in {destination}")
    return tarballs[0]


def _npm_reason(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (result.stderr or result.stdout or "").splitlines()]
    lines = [re.sub(r"^npm (error|ERR!)\s*", "", line) for line in lines if line]
    meaningful = [line for line in lines if line and not _NPM_NOISE.match(line)]
    if meaningful:
        return meaningful[0]
    return lines[-1] if lines else f"exit status {result.returncode}"


def _extract(tarball: Path, package: AssetPackage, destination: Path) -> None:
    """Extract only the pinned regular files; the "data" filter refuses links, devices and escapes."""
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            members = [_member(archive, package, asset) for asset in package.files]
            archive.extractall(destination, members=members, filter="data")
    except (tarfile.TarError, gzip.BadGzipFile, zlib.error, EOFError, ValueError) as exc:
        raise ExplorerError(f"the npm tarball of {package.spec} is unreadable: {exc}") from None


def _member(archive: tarfile.TarFile, package: AssetPackage, asset: AssetFile) -> tarfile.TarInfo:
    try:
        member = archive.getmember(f"package/{asset.path}")
    except KeyError:
        raise ExplorerError(f"{package.spec} has no file {asset.path}") from None
    if not member.isreg():
        raise ExplorerError(f"{package.spec}: {asset.path} is not a regular file")
    if member.size > _MAX_FILE_BYTES:
        raise ExplorerError(f"{package.spec}: {asset.path} is larger than {_MAX_FILE_BYTES} bytes")
    return member


def _verify(package: AssetPackage, asset: AssetFile, content: bytes) -> str:
    """Check the bytes against the pinned SRI hash; return their sha256 for the manifest."""
    sri = "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode("ascii")
    if sri != asset.integrity:
        raise ExplorerError(f"{package.spec}: {asset.path} does not match its pinned hash; refusing to install it")
    return hashlib.sha256(content).hexdigest()


def _write_manifest(staging: Path, entries: list[dict[str, object]]) -> None:
    text = json.dumps({"packages": entries}, indent=2, sort_keys=True) + "\n"
    (staging / MANIFEST_NAME).write_text(text, encoding="utf-8")


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename the finished folder into place; readers see the old set or the new one, never a mix."""
    retired: Path | None = None
    if target.exists():
        retired = target.with_name(f".explorer-old-{uuid.uuid4().hex}")
        os.replace(target, retired)
    os.replace(staging, target)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
