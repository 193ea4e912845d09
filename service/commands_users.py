"""`shakyo-mod user add|passwd|list`: staff accounts from the command line (the first 管理者 is made here)."""

from __future__ import annotations

import argparse
import getpass
import sys

from service.accounts import AccountError, AccountStore, PasswordPolicy, Role
from service.cli import Commands
from service.redis_conn import open_redis
from service.settings import Settings, load_settings

# Accepted spellings of each role on the command line.
ROLE_NAMES: dict[str, Role] = {
    **{r.value: r for r in Role},
    **{r.ja: r for r in Role},
}
CLI_ACTOR = "cli"  # recorded in the audit log as the one who made the change


def register(commands: Commands) -> None:
    add = commands.add_to_group(
        "user",
        "add",
        "職員アカウントを作成します / add a staff account",
        _add,
        group_help="アカウント / accounts",
    )
    add.add_argument("name", help="ユーザー名（半角英小文字・数字） / user name")
    add.add_argument(
        "--role", required=True, choices=sorted(ROLE_NAMES), help="staff(職員)・chief(課長)・admin(管理者)"
    )
    add.add_argument("--display-name", default="", help="画面に表示する名前 / display name")
    add.add_argument(
        "--password-stdin", action="store_true", help="パスワードを標準入力から読みます / read it from stdin"
    )
    passwd = commands.add_to_group("user", "passwd", "パスワードを再設定します / reset a password", _passwd)
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    commands.add_to_group("user", "list", "アカウントの一覧 / list accounts", _list)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("パスワード: ")
    if getpass.getpass("パスワード（確認）: ") != first:
        raise AccountError("確認用のパスワードが一致しません。")
    return first


def _add(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        password = _read_password(args.password_stdin)
        with open_redis(settings) as target:
            account = AccountStore(target.client(), policy=_password_policy(settings)).create(
                args.name, password, ROLE_NAMES[args.role], display_name=args.display_name, by=CLI_ACTOR
            )
    except AccountError as exc:
        print(exc.message_ja, file=sys.stderr)
        return 1
    print(f"アカウント「{account.username}」（{account.role.ja}）を作成しました。")
    return 0


def _passwd(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        password = _read_password(args.password_stdin)
        with open_redis(settings) as target:
            # Set by someone other than the user: they are asked to choose their own at the next login.
            account = AccountStore(target.client(), policy=_password_policy(settings)).set_password(
                args.name, password, by=CLI_ACTOR
            )
    except AccountError as exc:
        print(exc.message_ja, file=sys.stderr)
        return 1
    print(f"「{account.username}」のパスワードを再設定しました。次回ログイン時に変更を求められます。")
    return 0


def _list(args: argparse.Namespace) -> int:
    settings = load_settings()
    with open_redis(settings) as target:
        accounts = AccountStore(target.client(), policy=_password_policy(settings)).list()
    for a in accounts:
        state = "無効" if a.disabled else "有効"
        print(f"{a.username}\t{a.role.ja}\t{a.display_name}\t{state}")
    return 0


def _password_policy(settings: Settings) -> PasswordPolicy:
    # Imported here, not at the top: service.ui loads FastAPI, Jinja and matplotlib, which every other
    # command would then pay for at start-up (the CLI imports this module to build its parser).
    from service.ui.common import password_policy

    return password_policy(settings)
