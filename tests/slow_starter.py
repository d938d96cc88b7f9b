"""A process that takes its time to start, as a worker does under load (importing aiogram alone
can take 3–8 s of CPU), for tests/test_proc.py: SLOW_START seconds stand for the imports, then
it says "ready" and ticks every 50 ms."""

from __future__ import annotations

import os
import time

time.sleep(float(os.environ.get("SLOW_START", "0")))
print("ready", flush=True)
while True:
    print("tick", flush=True)
    time.sleep(0.05)
