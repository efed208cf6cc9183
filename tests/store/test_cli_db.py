"""`waystation db upgrade` and `db status` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from waystation.store.migrations import LATEST, MIGRATIONS


def run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WAYSTATION_")}
    return subprocess.run([sys.executable, "-m", "waystation.cli.main", *args],
                          env={**clean, "WAYSTATION_HOME": str(home), **env},
                          capture_output=True, text=True, timeout=60)


def test_upgrade_shows_each_migration_then_has_nothing_to_do(tmp_path: Path) -> None:
    before = run(tmp_path, "db", "status")
    assert before.returncode == 0 and "schema version 0" in before.stdout
    assert before.stdout.count("pending") == len(MIGRATIONS)
    first = run(tmp_path, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    for m in MIGRATIONS:
        assert f"applying migration {m.version:04d}: {m.name}" in first.stdout
    assert f"schema version {LATEST}" in first.stdout
    again = run(tmp_path, "db", "upgrade")
    assert "already up to date" in again.stdout
    after = run(tmp_path, "db", "status")
    assert after.stdout.count("applied") == len(MIGRATIONS) and "pending" not in after.stdout
    assert (tmp_path / "waystation.db").is_file()


def test_a_password_in_the_database_url_is_never_printed(tmp_path: Path) -> None:
    shown = run(tmp_path, "db", "status",
                WAYSTATION_DATABASE_URL="postgresql://u:s3cret-pw@127.0.0.1:1/none")
    assert "s3cret-pw" not in shown.stdout + shown.stderr
    assert shown.returncode != 0 and "127.0.0.1:1" in shown.stdout
