"""`shakyo-mod queue list` and `queue act ID delete|hide|dismiss|escalate|unhide --as USER`.

`queue list` prints a table for people (item id first, since `queue act` takes it; states, severities and
categories in Japanese; a footer saying when --limit cut the list short) or, with --json, one object per
line with the English codes for scripts. A decision from `queue act` goes through the same status machine
and action stream as a click in the UI; the running service's action worker then calls Meta.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from classifiers.categories import CATEGORIES
from service.accounts import AccountStore
from service.cli import Commands
from service.moderation import DECISIONS, STATUS_JA, Moderation, ModerationError
from service.redis_conn import open_redis
from service.settings import load_settings
from service.store import PENDING, QUEUE_STATUSES, Comment, Store, jst_datetime

PLATFORMS: tuple[str, ...] = ("facebook", "instagram")
# Between category names in the table: 「・」 occurs inside names (差別・差別の助長), 「／」 in none.
CATEGORY_SEPARATOR = "／"


def resolve_item(store: Store, given: str) -> str:
    """The item id for `given`: as it is when it names a platform, else the one platform's item holding that
    comment id. ModerationError (Japanese) when there is none or both platforms have it."""
    if ":" in given:
        return given
    found = [f"{p}:{given}" for p in PLATFORMS if store.get(f"{p}:{given}") is not None]
    if not found:
        raise ModerationError(
            f"コメントID「{given}」は見つかりません。queue list の項目IDを指定してください。"
        )
    if len(found) > 1:
        raise ModerationError(
            f"コメントID「{given}」は複数あります。{' または '.join(found)} と指定してください。"
        )
    return found[0]


def register(commands: Commands) -> None:
    listing = commands.add_to_group(
        "queue",
        "list",
        "審査キューを表示します / list the queue",
        _list,
        group_help="審査キュー / queue",
    )
    listing.add_argument("--status", default=PENDING, choices=QUEUE_STATUSES)
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--offset", type=int, default=0)
    listing.add_argument("--json", action="store_true", help="1行に1件のJSON / one JSON object per line")
    act = commands.add_to_group("queue", "act", "コメントに対応します / act on a queue item", _act)
    act.add_argument(
        "item", help="項目ID（例 facebook:123_456）、または媒体なしのコメントID / item id or bare comment id"
    )
    act.add_argument(
        "decision",
        choices=DECISIONS,
        help="delete(削除)・hide(非表示)・dismiss(問題なし)・escalate(課長へ相談)",
    )
    act.add_argument("--as", dest="user", required=True, help="操作する職員のユーザー名 / acting user")
    act.add_argument("--note", default="", help="メモ / note")


def _act(args: argparse.Namespace) -> int:
    settings = load_settings()
    with open_redis(settings) as target:
        r = target.client()
        account = AccountStore(r).get(args.user)
        if account is None or account.disabled:
            print(f"ユーザー「{args.user}」は登録されていないか、無効です。", file=sys.stderr)
            return 1
        moderation = Moderation(r)
        try:
            outcome = moderation.decide(
                resolve_item(moderation.store, args.item),
                args.decision,
                actor=account.username,
                role=account.role.value,
                note=args.note,
            )
        except ModerationError as exc:
            print(exc.message_ja, file=sys.stderr)
            return 1
    print(outcome.message_ja)
    return 0


def _list(args: argparse.Namespace) -> int:
    settings = load_settings()
    with open_redis(settings) as target, target.client() as client:
        store = Store(client)
        items = store.list_queue(args.status, limit=args.limit, offset=args.offset)
        total = store.count_by_status()[args.status]
    if args.json:
        for item in items:
            print(json.dumps(item.to_public(), ensure_ascii=False))
        # On stderr, so the JSON lines stay the whole of stdout.
        if len(items) < total:
            print(shown_line(total, len(items), args.offset), file=sys.stderr)
    else:
        print_table(items, total, args.offset, sys.stdout)
    return 0


def shown_line(total: int, shown: int, offset: int) -> str:
    """How many of how many are listed; when some are left out, which option shows them."""
    if shown == total:
        return f"{total}件"
    if offset == 0:
        return f"{total}件中{shown}件を表示（--limit で変更）"
    if shown == 0:
        return f"{total}件中、{offset + 1}件目以降はありません（--offset で変更）"
    return f"{total}件中{offset + 1}〜{offset + shown}件目を表示（--limit・--offset で変更）"


def print_table(items: list[Comment], total: int, offset: int, out: TextIO) -> None:
    headers = ("項目ID", "受信日時(JST)", "媒体", "重大度", "分類", "投稿者", "状態", "コメント")
    if not items and total == 0:
        print("該当するコメントはありません。", file=out)
        return
    print("\t".join(headers), file=out)
    for item in items:
        received = jst_datetime(item.received_at)
        row = (
            item.item_id,
            received.strftime("%Y-%m-%d %H:%M") if received else "",
            "Facebook" if item.platform == "facebook" else "Instagram",
            item.severity_level.ja,
            categories_ja(item),
            item.author_name or "",
            STATUS_JA.get(item.status, item.status),
            _one_line(item.text, 40),
        )
        print("\t".join(row), file=out)
    print(shown_line(total, len(items), offset), file=out)


def categories_ja(item: Comment) -> str:
    """Flagged categories; for a 要確認 item the ones only the model suspected, marked as such."""
    if item.needs_review:
        names = [CATEGORIES[c].ja for c in item.review_categories if c in CATEGORIES]
        return "（要確認）" + CATEGORY_SEPARATOR.join(names)
    return CATEGORY_SEPARATOR.join(CATEGORIES[c].ja for c in item.categories if c in CATEGORIES)


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
