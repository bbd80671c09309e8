#!/usr/bin/env python3
"""Check that the GraphiQL explorer renders with no request leaving this machine.

Usage: python scripts/check_explorer.py http://127.0.0.1:8000/graphql [--verbose]

Loads URL in headless Chromium (`chromium` or `chromium-browser` on PATH; the project does not install
it) where every host name except localhost/127.0.0.1 fails to resolve and every non-loopback
connection goes to a dead proxy, then looks for GraphiQL's rendered editor in the final DOM. A page
that needs a CDN therefore fails. Exit status: 0 rendered, 1 not rendered, 2 no Chromium or bad usage.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from typing import Final

BROWSERS: Final = ("chromium", "chromium-browser")
# Both only exist once GraphiQL has mounted (our page's root element carries neither).
MARKERS: Final = ('class="graphiql-container"', "graphiql-query-editor")
TIMEOUT_S: Final = 90


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    browser = shutil.which(args.browser) if args.browser else _find_browser()
    if browser is None:
        print(f"check_explorer: no Chromium found (looked for {', '.join(BROWSERS)} on PATH)", file=sys.stderr)
        return 2
    try:
        dom, log = _render(browser, args.url, args.budget_ms)
    except subprocess.TimeoutExpired:
        print(f"check_explorer: FAIL: Chromium did not finish within {TIMEOUT_S} s", file=sys.stderr)
        return 1
    if args.verbose:
        _print_console(log)
    missing = [marker for marker in MARKERS if marker not in dom]
    if missing:
        print(f"check_explorer: FAIL: GraphiQL did not render at {args.url} (missing {', '.join(missing)})")
        if not args.verbose:
            _print_console(log)
        return 1
    print(f"check_explorer: OK: GraphiQL rendered at {args.url} with off-machine requests blocked")
    return 0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the explorer page, e.g. http://127.0.0.1:8000/graphql")
    parser.add_argument("--budget-ms", type=int, default=8000, help="virtual time the page gets (default 8000)")
    parser.add_argument("--browser", help="Chromium executable (default: chromium or chromium-browser on PATH)")
    parser.add_argument("--verbose", action="store_true", help="print the page's console and network errors")
    return parser.parse_args(argv)


def _find_browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def _render(browser: str, url: str, budget_ms: int) -> tuple[str, str]:
    """Return the DOM after `budget_ms` of virtual time, and Chromium's log (console messages)."""
    with tempfile.TemporaryDirectory(prefix="check-explorer-") as profile:
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            # Any host name other than these two fails to resolve...
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost",
            # ...and IP-literal URLs, which skip the resolver, go to a proxy that is not there.
            # Loopback addresses bypass proxies implicitly, so the page itself still loads.
            "--proxy-server=http://127.0.0.1:9",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            f"--virtual-time-budget={budget_ms}",
            url,
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    return result.stdout, result.stderr


def _print_console(log: str) -> None:
    lines = [line for line in log.splitlines() if "CONSOLE" in line or "net::ERR_" in line]
    for line in lines[:30]:
        print(f"  {line.strip()[:300]}")


if __name__ == "__main__":
    sys.exit(main())
