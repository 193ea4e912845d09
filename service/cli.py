"""`shakyo-mod` (also `python -m service`): serve, worker, queue, classify, train, evaluate.

Adding commands from another module takes one line: put the module's name in COMMAND_MODULES with the
top-level commands it adds, and give it `register(commands: Commands) -> None`, which calls
`commands.add(...)` for a top-level command or `commands.add_to_group("queue", ...)` for a sub-command
such as `queue act`. A handler receives the parsed arguments and returns the exit code; it raises
SettingsError for a bad setting (exit 2, one line) and RedisUnavailable when Redis cannot be reached
(exit 1, one line).

Start-up time is part of every command: only the modules that add the command being run are imported
(all of them for `--help`), and handlers import the heavy parts (uvicorn, the classifier, Redis) themselves,
so `queue list` and `classify` start in a fraction of a second.
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

    from service.settings import Settings

Handler = Callable[[argparse.Namespace], int]
_CLASSIFY_BATCH = 100  # comments judged (and answered) together at most, when a file is piped in

# Module → the top-level commands it adds (one line per module).
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "service.cli": ("serve", "worker", "classify", "train", "evaluate"),
    "service.commands_users": ("user",),  # user add / passwd / list
    "service.commands_queue": ("queue",),  # queue list / act
    "service.commands_report": ("report",),
    "service.commands_meta": ("meta",),  # meta connect / status
    "service.commands_sync": ("sync",),  # reconciliation with Meta, once
}


class Commands:
    """The command table handed to each module's register()."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self._sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
        self._groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}

    def add(self, name: str, help: str, handler: Handler) -> argparse.ArgumentParser:
        parser = self._sub.add_parser(name, help=help, description=help)
        parser.set_defaults(handler=handler)
        return parser

    def add_to_group(
        self, group: str, name: str, help: str, handler: Handler, *, group_help: str = ""
    ) -> argparse.ArgumentParser:
        """A sub-command `<group> <name>`; the group is created by its first sub-command."""
        if group not in self._groups:
            group_parser = self._sub.add_parser(group, help=group_help, description=group_help)
            self._groups[group] = group_parser.add_subparsers(dest=f"{group}_command", required=True)
        parser = self._groups[group].add_parser(name, help=help, description=help)
        parser.set_defaults(handler=handler)
        return parser


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser for `argv`: with a known command, only the modules adding it are imported."""
    parser = argparse.ArgumentParser(
        prog="shakyo-mod", description="美祢市社会福祉協議会 SNSコメント審査サービス (shakyo-moderation)"
    )
    commands = Commands(parser)
    command = next((a for a in argv if not a.startswith("-")), None)
    modules = [m for m, names in COMMAND_MODULES.items() if command in names] or list(COMMAND_MODULES)
    for module in modules:
        importlib.import_module(module).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from service.settings import SettingsError

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.handler(args))
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # RedisUnavailable can only come from a handler that imported service.redis_conn; importing it here
        # would make `classify`, which never touches Redis, load redis-py at start-up.
        redis_conn = sys.modules.get("service.redis_conn")
        if redis_conn is not None and isinstance(exc, redis_conn.RedisUnavailable):
            print(str(exc), file=sys.stderr)
            return 1
        raise


def register(commands: Commands) -> None:
    serve = commands.add(
        "serve", "Webアプリ・ワーカー・(未設定なら)内蔵Redisを起動します / run the service", _serve
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-worker", action="store_true", help="ワーカーを起動しない / web only")
    serve.add_argument(
        "--workers",
        type=_positive,
        default=0,
        help="コメント判定のワーカープロセス数（既定: CPUコア数-1、最低1）/ event worker processes (default cores-1)",
    )
    commands.add("worker", "ワーカーだけを起動します / run a worker process", _worker)
    commands.add(
        "classify",
        'stdinのJSON行 {"id","text"} を判定し1行ずつJSONで出力します / classify JSON lines from stdin',
        _classify,
    )
    train = commands.add("train", "分類モデルを学習します / train the model", _train)
    train.add_argument("--extra", nargs="*", default=[], type=Path, help="追加の学習データ (JSONL)")
    train.add_argument(
        "--with-decisions",
        action="store_true",
        help="職員の判断（削除・非表示・問題なし）を学習データに加えます / add staff decisions",
    )
    evaluate = commands.add(
        "evaluate", "評価データで分類を評価します / evaluate on a labelled file", _evaluate
    )
    evaluate.add_argument("file", type=Path)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"1以上の整数を指定してください / a whole number ≥ 1, not {value!r}")
    return number


def configure_classifier(settings: Settings) -> None:
    from classifiers.config import DEFAULT_COUNCIL_NAMES, configure

    configure(
        site_lexicon_path=settings.site_lexicon_path,
        model_path=settings.model_path,
        council_names=[*DEFAULT_COUNCIL_NAMES, *settings.council_names] if settings.council_names else None,
        # The council's own help-desk number is published in its replies, so it is public too.
        public_phones=[*settings.public_phones, *filter(None, [settings.support_desk_phone])],
    )


class _StopSignals:
    """SIGINT/SIGTERM set an event instead of killing the process, so shutdown runs in order; a second one sets
    ``hurry``, for a person who does not want to wait for the orderly stop."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.hurry = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.event.is_set():
            self.hurry.set()
        self.event.set()


def _serve(args: argparse.Namespace) -> int:
    from contextlib import closing

    from service.actions import ensure_actions_group
    from service.instance_lock import InstanceLock, StartRefused, check_port_free
    from service.logs import configure_logging
    from service.processes.supervisor import Supervisor, default_worker_count, serve_children
    from service.redis_conn import open_redis
    from service.settings import load_serve_settings
    from service.worker import ensure_group

    settings = load_serve_settings()
    configure_logging(settings.log_level)
    workers = 0 if args.no_worker else (args.workers or default_worker_count())
    lock = InstanceLock(settings.data_dir)
    try:
        lock.acquire()
        check_port_free(args.host, args.port)
    except StartRefused as exc:
        lock.close()
        print(str(exc), file=sys.stderr)
        return 1
    # The supervisor stops the processes in order on SIGINT/SIGTERM; then the embedded Redis is saved.
    stop = _StopSignals()
    with closing(lock), open_redis(settings) as target:
        with target.client() as admin:
            ensure_group(admin)
            _first_run_hints(admin, settings, f"http://{args.host}:{args.port}/")
            ensure_actions_group(admin)
        children = serve_children(target.url, host=args.host, port=args.port, workers=workers)
        Supervisor(children, hurry=stop.hurry).run(stop.event)
    return 0


def _first_run_hints(r: redis.Redis, settings: Settings, url: str) -> None:
    """What a new installation still needs, said on the console where the operator started it."""
    from service.accounts import AccountStore

    print(f"審査画面: {url} / staff UI: {url}", file=sys.stderr)
    if not AccountStore(r).list():
        print(
            "アカウントがまだありません。別の端末で `.venv/bin/shakyo-mod user add NAME --role admin` を実行して"
            "最初の管理者を作成してください。 / No accounts yet: create the first admin with "
            "`shakyo-mod user add NAME --role admin`.",
            file=sys.stderr,
        )
    if not settings.meta_connected:
        print(
            "Metaとはまだ接続していません（SHAKYO_FACEBOOK_PAGE_ID・SHAKYO_INSTAGRAM_ACCOUNT_ID が未設定）。"
            "Webhookは受け付けません。 / Not connected to Meta yet: set the Page / Instagram account ids "
            "and the app secret to receive webhooks.",
            file=sys.stderr,
        )


def _worker(args: argparse.Namespace) -> int:
    from service.logs import configure_logging
    from service.processes.jobs import start_jobs, stop_jobs
    from service.redis_conn import open_redis
    from service.settings import load_serve_settings
    from service.worker import Worker

    settings = load_serve_settings()
    configure_logging(settings.log_level)
    configure_classifier(settings)
    stop = _StopSignals()
    with open_redis(settings) as target, target.client() as client:
        # Every worker machine runs the jobs too; their Redis locks make each piece of work happen once.
        jobs = start_jobs(target, settings, actions=True)
        try:
            Worker(client, settings).run(stop.event)
        finally:
            stop_jobs(jobs)
    return 0


def _classify(args: argparse.Namespace) -> int:
    import select

    from service.settings import load_settings

    configure_classifier(load_settings())
    # Lines are judged in batches (classifiers.moderate_many is cheaper per comment) and their answers
    # written together: under PYTHONUNBUFFERED (common in containers) every sys.stdout.write would be a
    # system call of its own. A program feeding lines one at a time still gets each answer at once: a
    # batch ends as soon as no more input is waiting.
    batch: list[str] = []
    for line in sys.stdin:
        batch.append(line)
        if len(batch) >= _CLASSIFY_BATCH or not select.select([sys.stdin], [], [], 0)[0]:
            _write_lines(_classify_lines(batch))
            batch.clear()
    if batch:
        _write_lines(_classify_lines(batch))
    return 0


def _classify_lines(lines: list[str]) -> list[str]:
    """The JSON answer to each non-blank line: its verdict with its id, or the error that line has."""
    import classifiers

    encode = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(..., ensure_ascii=False)
    answers: list[str] = []
    ids: list[str] = []  # the encoded id of each comment, in order
    comments: list[tuple[str, str | None]] = []
    slots: list[int] = []  # where each comment's answer goes in ``answers``
    for line in lines:
        if not line.strip():
            continue
        item_id: object = None
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("a line must be a JSON object")
            item_id = data.get("id")
            text = data.get("text")
            if not isinstance(text, str):
                raise ValueError('"text" must be a string')
        except ValueError as exc:  # includes JSONDecodeError
            answers.append(encode({"id": item_id, "error": str(exc)}))
            continue
        author = data.get("author")
        comments.append((text, author if isinstance(author, str) else None))
        ids.append(encode(item_id))
        slots.append(len(answers))
        answers.append("")
    for slot, item_id, verdict in zip(slots, ids, classifiers.moderate_many(comments), strict=True):
        # {"id": …, **verdict.to_dict()} as JSON: the verdict's object with the id put first.
        answers[slot] = '{"id": ' + item_id + ", " + verdict.to_json()[1:]
    return answers


def _write_lines(lines: list[str]) -> None:
    if lines:  # a batch of blank lines has no answers
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()


def _train(args: argparse.Namespace) -> int:
    from classifiers.training import train
    from service.redis_conn import open_redis
    from service.settings import load_settings

    settings = load_settings()
    configure_classifier(settings)
    decisions = None
    if args.with_decisions:
        from service.moderation import Moderation

        with open_redis(settings) as target:
            decisions = Moderation(target.client()).training_decisions()
        print(f"職員の判断 {len(decisions)}件を学習データに加えます。", file=sys.stderr)
    result = train(extra=list(args.extra), decisions=decisions)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if decisions:
        print(_metrics_change(result["before"], result["after"]), file=sys.stderr)
    return 0


def _metrics_change(before: dict, after: dict) -> str:
    """The cross-validated figures before and after adding staff decisions, one line each."""
    lines = ["交差検証の変化 (before → after):"]
    for part in ("model", "pipeline"):
        if part not in before or part not in after:
            continue
        for avg in ("micro", "macro"):
            b, a = before[part][avg], after[part][avg]
            lines.append(
                f"  {part} {avg}: P {b['precision']:.3f}→{a['precision']:.3f}"
                f"  R {b['recall']:.3f}→{a['recall']:.3f}  F1 {b['f1']:.3f}→{a['f1']:.3f}"
            )
    return "\n".join(lines)


def _evaluate(args: argparse.Namespace) -> int:
    from classifiers.training import evaluate
    from service.settings import load_settings

    configure_classifier(load_settings())
    print(json.dumps(evaluate(args.file), ensure_ascii=False, indent=2))
    return 0
