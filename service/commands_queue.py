"""`shakyo-mod queue act ID delete|hide|dismiss|escalate|unhide --as USER`: a staff decision from the shell.

The decision goes through the same status machine and action stream as a click in the UI; the
running service's action worker then calls Meta.
"""

from __future__ import annotations

import argparse
import sys

from service.accounts import AccountStore
from service.cli import Commands
from service.moderation import DECISIONS, Moderation, ModerationError
from service.redis_conn import open_redis
from service.settings import load_settings
from service.store import Store

PLATFORMS: tuple[str, ...] = ("facebook", "instagram")


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
