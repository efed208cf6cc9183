"""The console script pauses the garbage collector only while it imports the commands."""

from __future__ import annotations

import gc

import pytest

import waystation.cli.main as commands
from waystation.cli import run


def test_commands_run_with_the_collector_on(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    monkeypatch.setattr(commands, "main", lambda: seen.append(gc.isenabled()))
    run()
    assert seen == [True]
    assert gc.isenabled()


def test_the_collector_is_back_on_when_the_import_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(commands, "main")  # `from waystation.cli.main import main` now fails
    with pytest.raises(ImportError):
        run()
    assert gc.isenabled()
