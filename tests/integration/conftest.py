"""Fixtures of the end-to-end tests that run a gateway in front of one provider's fake server.

A test module names its fake server `fake` (`tests.fakes.server.module_fake`); it is emptied of
recorded requests and queued faults before every test. A gateway costs about 0.17 s to start
and stop, so the tests of a module that all configure it the same way share one
(`module_gateway`): nothing a test does to it reaches the next one, as no answer is cached
unless a request asks for it and a plan of one model still tries that model while it cools
down after failures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import MASTER_KEY, RunningGateway, _ServerThread
from waystation.config.settings import load_settings
from waystation.server.app import create_app

StartGateway = Callable[..., RunningGateway]


def provider_env(home: Path, **variables: str) -> dict[str, str]:
    """A gateway's environment: its home, the master key, a 30 s upstream timeout, and the
    provider's own variables (the ones its SDK reads)."""
    return {"WAYSTATION_HOME": str(home), "WAYSTATION_MASTER_KEY": MASTER_KEY,
            "WAYSTATION_UPSTREAM_TIMEOUT": "30", **variables}


@pytest.fixture(autouse=True)
def _clean_provider_fake(request: pytest.FixtureRequest) -> None:
    if "fake" in request.fixturenames:
        request.getfixturevalue("fake").reset()


@pytest.fixture(scope="module")
def module_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartGateway]:
    """Start a gateway configured with the given provider variables, for the whole module."""
    servers: list[_ServerThread] = []

    def start(**variables: str) -> RunningGateway:
        home = tmp_path_factory.mktemp("home")
        app = create_app(load_settings(provider_env(home, **variables)))
        thread = _ServerThread(app)
        thread.start()
        servers.append(thread)
        return RunningGateway(app, thread.port, stop=thread.stop)

    yield start
    for server in servers:
        server.stop()
