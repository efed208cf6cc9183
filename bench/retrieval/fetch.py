"""One-time setup: fetch the `cherche` sdist with pip into a cache folder and extract its
Semanlink JSON files to `bench/retrieval/.cache/semanlink/` (the benchmark reads only those).

    python bench/retrieval/fetch.py
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

CACHE = Path(__file__).parent / ".cache"
VERSION = "2.2.1"


def fetch(cache: Path = CACHE) -> Path:
    target = cache / "semanlink"
    if (target / "arxiv.json").exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                    ":all:", f"cherche=={VERSION}", "-d", str(cache)], check=True)
    archive = cache / f"cherche-{VERSION}.tar.gz"
    target.mkdir(exist_ok=True)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if "/cherche/data/semanlink/" in member.name and member.name.endswith(".json"):
                member.name = Path(member.name).name
                tar.extract(member, target, filter="data")
    return target


if __name__ == "__main__":
    print(fetch())
