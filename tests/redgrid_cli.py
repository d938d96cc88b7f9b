"""`python -m redgrid.cli <arguments>`, for tests/proc.py to fork from its pre-imported server
(tests/test_sqlite_single_process.py): the arguments after this script's name are the command line."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redgrid.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())  # as redgrid/cli.py's own `__main__`
