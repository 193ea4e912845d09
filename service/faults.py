"""Fault injection for the fault suite (tests/service/test_faults*.py).

`SHAKYO_FAULT_EXIT_AT=<point>` in a process's environment makes it end abruptly, as a SIGKILL would (no
`finally`, no atexit, no flush), the first time it reaches `point(<point>)`. Unset, as in production, a
point is one string comparison. The points:

- `after_store`: the worker has committed an event's store transaction (comment written, entry
  acknowledged) and not yet run the after-flag steps (author index, flare count, automatic hiding).
"""

from __future__ import annotations

import os

FAULT_ENV = "SHAKYO_FAULT_EXIT_AT"
FAULT_EXIT_CODE = 86  # distinct from any exit the service makes on its own
_EXIT_AT = os.environ.get(FAULT_ENV, "")


def point(name: str) -> None:
    if name == _EXIT_AT:
        os._exit(FAULT_EXIT_CODE)
