from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.registry.identity.helpers import Verifier, running_verifier


@pytest.fixture(scope="module")
def verifier() -> Iterator[Verifier]:
    with running_verifier() as server:
        yield server
