"""Benchmarks that print ratios against a baseline measured in the same run (never timed tests).

    python scripts/bench.py auth        # authenticated vs unauthenticated { __typename }
    python scripts/bench.py eligibility # liveEligibility vs bare Strawberry and graphql-core; register mode
    python scripts/bench.py import      # supplier import script vs asyncpg COPY
    python scripts/bench.py avatars     # near-duplicate lookup vs numpy brute force
    python scripts/bench.py screening   # screen / liveEligibility at 10k and 1M entries
    python scripts/bench.py all

Each subcommand lives in scripts/benches/<name>.py as `main(argv: list[str]) -> int`.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BENCHES = ("auth", "eligibility", "import", "avatars", "screening")


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0 if argv else 2
    names = BENCHES if argv[0] == "all" else (argv[0],)
    status = 0
    for name in names:
        if name not in BENCHES:
            print(f"unknown benchmark {name!r}; choose from: {', '.join(BENCHES)}, all", file=sys.stderr)
            return 2
        module = importlib.import_module(f"scripts.benches.{name.replace('import', 'import_')}")
        status |= module.main(argv[1:])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
