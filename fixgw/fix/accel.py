"""The optional C speedups of the session hot path, or None.

``fixgw.fix._speedups`` (fixgw/fix/_speedups.c, built by setup.py when a C compiler is there)
does the parser's simple split, the validator's per-message value checks, the store
journal's record and an echo's reply framing, each giving exactly the answers of the Python
code it stands in for (tests/fix/test_fix_speedups.py, tests/session/test_session_store_journal.py).
Why it exists: on a lone message fixgw's own latency is its Python work, and that work is
what stretches when a shared machine slows down; these pieces were a third of it
(157k -> 106k instructions on the reply's path, scripts/count_gateway_instructions.py).

Without a compiler the build skips it and fixgw runs the Python code. ``FIXGW_PURE_PYTHON=1``
turns it off at run time (to compare, or to rule it out)."""
from __future__ import annotations

import os
from types import ModuleType

speedups: ModuleType | None
try:
    from fixgw.fix import _speedups as speedups
except ImportError:         # built without a C compiler
    speedups = None
if os.environ.get("FIXGW_PURE_PYTHON"):
    speedups = None
