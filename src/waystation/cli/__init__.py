"""The `waystation` command.

`run` is the console script (not `main`, which names the commands' module). It imports the
commands with the cyclic garbage collector paused: start-up makes about 90,000 objects that
live as long as the process and under a thousand unreachable ones, so collecting while they
are made is wasted work (4 % of the instructions of importing and building the app,
bench/RESULTS.md, ninth set). `serve` keeps the collector paused until the app is built and frozen
(`server.factory.tune_gc` turns it back on); any other command gets it back before it runs.
"""

from __future__ import annotations

import gc


def run() -> None:
    gc.disable()
    try:
        from waystation.cli.main import main
    finally:
        gc.enable()
    main()
