"""One `serve` per data directory, and a clear line when its port is taken.

A second `serve` on the same data directory would join the first one's embedded Redis and break when the
first stops, so `serve` holds `serve.lock` in the data directory while it runs: an exclusive `flock` on
the file, which also holds the pid for the message a second start prints. The kernel drops the lock when
its process ends however it ends (kill -9 included), so a lock left by a killed process is never in the
way; finding a pid in a file nobody locks is that case, and is logged. The file is created 0600 like
everything else in the data directory.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import socket
import time
from pathlib import Path

from service.redis_conn import PRIVATE_FILE_MODE, secure_data_dir

log = logging.getLogger(__name__)

LOCK_FILE = "serve.lock"
# The previous instance's web process may still be letting go of the port just after it was stopped.
PORT_GRACE_SECONDS = 5.0


class StartRefused(Exception):
    """`serve` cannot start; the message is one line, Japanese then English."""


class InstanceLock:
    """Held from `acquire()` until `close()` (or the process's end)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._fd = -1

    def acquire(self) -> InstanceLock:
        secure_data_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _recorded_pid(fd)
            os.close(fd)
            ja, en = (f"pid {holder}", f"pid {holder}") if holder else ("pid 不明", "pid unknown")
            raise StartRefused(
                f"別の serve（{ja}）がデータフォルダ {self.path.parent} を使用中のため起動しません。"
                f"先にそちらを停止してください。 / Another serve ({en}) is using the data directory "
                f"{self.path.parent}; stop it first."
            ) from None
        stale = _recorded_pid(fd)
        if stale and stale != os.getpid():
            log.warning(
                "stale serve lock left by an ended process; taking it over", extra={"stale_pid": stale}
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def close(self) -> None:
        if self._fd < 0:
            return
        # Emptied before unlocking, so a pid is found in the file only while its process holds the lock
        # or after it was killed.
        os.ftruncate(self._fd, 0)
        os.close(self._fd)
        self._fd = -1


def _recorded_pid(fd: int) -> int:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0)
    except (OSError, ValueError):
        return 0


def check_port_free(host: str, port: int) -> None:
    """StartRefused (one line) when something already listens on host:port."""
    deadline = time.monotonic() + PORT_GRACE_SECONDS
    while True:
        error = _bind_error(host, port)
        if error is None:
            return
        if error.errno != errno.EADDRINUSE or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if error.errno == errno.EADDRINUSE:
        raise StartRefused(
            f"ポート {port}（{host}）は別のプログラムが使用中です。--port で別の番号を指定するか、"
            f"そのプログラムを停止してください。 / Port {port} on {host} is already in use; choose another "
            "with --port or stop the program using it."
        )
    raise StartRefused(
        f"{host}:{port} で待ち受けできません（{error.strerror}）。--host と --port を確認してください。"
        f" / Cannot listen on {host}:{port} ({error.strerror}); check --host and --port."
    )


def _bind_error(host: str, port: int) -> OSError | None:
    """Bind as uvicorn will (SO_REUSEADDR, so a closed connection in TIME_WAIT does not count)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return OSError(errno.EADDRNOTAVAIL, exc.strerror or str(exc))
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return exc
    return None
