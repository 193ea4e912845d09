"""Live staff pages: the queue, 要確認 and 相談 views refresh themselves, and an item page shows who else
has it open.

Writers publish on the `{shakyo}:live` channel inside their own transactions (`Store` when an item enters
or leaves a queue, `AuditLog` with each entry). Each web process holds one subscription (`hub.LiveHub`) and
fans the messages out to its server-sent-event streams (`web`, `GET /live/events`); `static/live.js` on the
pages reloads the list or updates the 対応中 line. Pages work without JavaScript (reload to see changes).
Presence (`presence`) is a short-lived mark per person and item in Redis.
"""

from __future__ import annotations

import threading

# Set when the web process is told to stop, so open event streams end at once instead of holding the
# graceful shutdown for its whole timeout (a stream never ends by itself).
STOPPING = threading.Event()
