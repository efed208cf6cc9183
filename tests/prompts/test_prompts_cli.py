"""`waystation prompts` as a user runs it: files in, ids and readable diffs out, one-line errors,
and what it stores is what a gateway on the same database serves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from tests.conftest import gateway_env
from tests.fakes.openai_server import FakeOpenAI
from tests.prompts.conftest import call

FIRST = """\
display_name: Support
path: Default/support
description: answers customers
model: openai/gpt-4o-mini
parameters:
  temperature: 0.2
messages:
  - role: system
    content: |
      You help {{customer}}.
      Be brief.
"""


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WAYSTATION_")}
    return subprocess.run([sys.executable, "-m", "waystation.cli.main", "prompts", *args],
                          env={**clean, "WAYSTATION_HOME": str(home)}, cwd=home.parent,
                          capture_output=True, text=True, timeout=60)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def created(home: Path, file: Path) -> str:
    made = run(home, "create", str(file))
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def test_create_update_show_and_diff(tmp_path: Path) -> None:
    home = tmp_path / "home"
    file = write(tmp_path / "support.yaml", FIRST)
    pid = created(home, file)
    assert len(pid) == 26
    write(file, FIRST.replace("Be brief.", "Be very brief.").replace("0.2", "0.5")
          + "commit_message: shorter answers\n")
    updated = run(home, "update", pid, str(file))
    assert updated.returncode == 0 and f"prompt {pid}: version 2" in updated.stdout
    again = run(home, "update", pid, str(file))
    assert "config unchanged, still version 2" in again.stdout

    listed = run(home, "list").stdout
    assert pid in listed and "Support (Default/support)" in listed

    shown = run(home, "show", pid, "--version", "1").stdout
    assert "version      1 of 2" in shown and "Be brief." in shown and "temperature: 0.2" in shown
    latest = run(home, "show", pid).stdout
    assert "shorter answers" in latest and "Be very brief." in latest

    diff = run(home, "diff", pid, "1", "2").stdout.splitlines()
    assert diff[:2] == [f"--- {pid} version 1", f"+++ {pid} version 2"]
    assert "-  temperature: 0.2" in diff and "+  temperature: 0.5" in diff
    assert "-    Be brief." in diff and "+    Be very brief." in diff
    assert "     You help {{customer}}." in diff  # unchanged lines for context

    as_api: dict[str, Any] = orjson.loads(run(home, "show", pid, "--json").stdout)
    assert as_api["version"] == 2 and as_api["prompt"]["temperature"] == 0.5


def test_json_files_and_renames_without_a_new_version(tmp_path: Path) -> None:
    home = tmp_path / "home"
    file = write(tmp_path / "p.json", orjson.dumps({
        "display_name": "J", "path": "p", "messages": [{"role": "user", "content": "hi"}],
        "parameters": {"max_tokens": 10}}).decode())
    pid = created(home, file)
    rename = write(tmp_path / "rename.yaml", "display_name: Renamed\n")
    assert "still version 1" in run(home, "update", pid, str(rename)).stdout
    assert "Renamed (p)" in run(home, "list").stdout
    deleted = run(home, "delete", pid)
    assert deleted.returncode == 0 and run(home, "list").stdout.strip() == "no prompts"


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bad = write(tmp_path / "bad.yaml", FIRST.replace("0.2", "7"))
    cases = [
        (("create", str(bad)), "bad.yaml: Invalid value for parameters.temperature"),
        (("create", str(tmp_path / "none.yaml")), "cannot read"),
        (("create", str(write(tmp_path / "x.yaml", "colour: red\n"))), "unknown field 'colour'"),
        (("create", str(write(tmp_path / "y.yaml", "[1, 2]\n"))), "must hold a mapping"),
        (("create", str(write(tmp_path / "z.yaml", "a: [\n"))), "neither YAML nor JSON"),
        (("show", "nope"), "No prompt with id 'nope'"),
        (("diff", created(home, write(tmp_path / "ok.yaml", FIRST)), "1", "4"),
         "has no version '4'"),
    ]
    for args, fragment in cases:
        done = run(home, *args)
        assert done.returncode == 1, (args, done.stdout)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], (
            args, done.stderr)


def test_a_gateway_on_the_same_database_serves_what_the_cli_stored(
        tmp_path: Path, fake_openai: FakeOpenAI, start_gateway: Any) -> None:
    home = tmp_path / "home"
    pid = created(home, write(tmp_path / "p.yaml", FIRST))
    gw = start_gateway(gateway_env(fake_openai, home))
    answer = call(gw, "POST", "/v2/router/chat/completions", json={
        "model": "openai/gpt-4o", "messages": [{"role": "user", "content": "Hi"}],
        "orq": {"prompt": {"id": pid, "version": "latest"}}, "variables": {"customer": "Bo"}})
    assert answer.status_code == 200, answer.text
    sent = fake_openai.requests[-1].body
    assert sent["messages"][0]["content"] == "You help Bo.\nBe brief.\n"
    assert sent["model"] == "gpt-4o-mini" and sent["temperature"] == 0.2
