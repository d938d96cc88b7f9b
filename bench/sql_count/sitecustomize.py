"""Loaded by the bot under `bench/updates.py --count-sql` (this folder is put on its PYTHONPATH):
counts the SQL statements the process executes and the time its cyclic garbage collector runs; on
SIGUSR1 it writes "statements gc_seconds gc_collections" so far to $BENCH_SQL_COUNT_FILE. Nothing
here runs in production."""

import gc
import os
import signal
import time

_path = os.environ.get("BENCH_SQL_COUNT_FILE")
if _path:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    _count = [0]
    _gc = [0.0, 0, 0.0]  # seconds, collections, started

    @event.listens_for(Engine, "before_cursor_execute")
    def _counted(*_args: object) -> None:
        _count[0] += 1

    def _collecting(phase: str, _info: dict) -> None:
        if phase == "start":
            _gc[2] = time.thread_time()
        else:
            _gc[0] += time.thread_time() - _gc[2]
            _gc[1] += 1

    gc.callbacks.append(_collecting)

    def _write(*_args: object) -> None:
        with open(_path + ".tmp", "w") as out:
            out.write(f"{_count[0]} {_gc[0]:.6f} {_gc[1]}")
        os.replace(_path + ".tmp", _path)

    signal.signal(signal.SIGUSR1, _write)
