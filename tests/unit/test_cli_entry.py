"""The console script pauses the garbage collector only while it imports the commands."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

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


def test_serving_imports_nothing_only_other_commands_use(tmp_path: Path) -> None:
    """Every command imports all of them; what only `kb` (rich) or `prompts` and config files
    (yaml) use is imported when used, and uvicorn is asked for no WebSocket library. Checked
    in a fresh interpreter that loads uvicorn's configuration as `serve` gives it."""
    code = (
        "import sys, uvicorn; from waystation.cli.main import uvicorn_options; "
        "from waystation.config.settings import load_settings; "
        "uvicorn.Config(**uvicorn_options(load_settings())).load(); "
        "print(sorted({n.split('.')[0] for n in sys.modules} "
        "& {'rich', 'yaml', 'websockets', 'wsproto'}))"
    )
    env = {**os.environ, "WAYSTATION_HOME": str(tmp_path),
           "WAYSTATION_MASTER_KEY": "sk-test-master-key-0123456789"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
