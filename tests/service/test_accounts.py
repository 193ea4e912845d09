from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import redis
from argon2 import PasswordHasher

from service.accounts import (
    AccountError,
    AccountStore,
    PasswordPolicy,
    PasswordPolicyError,
    Role,
    role_of,
    user_key,
)
from service.audit import AuditLog
from service.hours import JST

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=JST)
GOOD = "Tsubaki-no-hana-2026"
GOOD2 = "秋の夕暮れに柿を三つ食べた"


def cheap_hasher() -> PasswordHasher:
    # Real argon2id, with parameters small enough to keep the suite fast.
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def store(r: redis.Redis) -> AccountStore:
    return AccountStore(r, hasher=cheap_hasher())


def test_roles_have_japanese_labels_and_an_order() -> None:
    assert [Role.STAFF.ja, Role.CHIEF.ja, Role.ADMIN.ja] == ["職員", "課長", "管理者"]
    assert Role.ADMIN.at_least(Role.CHIEF) and Role.CHIEF.at_least(Role.CHIEF)
    assert not Role.STAFF.at_least(Role.CHIEF)


@pytest.mark.parametrize(
    ("password", "code", "fragment"),
    [
        ("Kumo-7sora", "too_short", "12文字以上"),
        ("123456789012", "digits_only", "数字だけ"),
        ("１２３４５６７８９０１２", "digits_only", "数字だけ"),  # full-width digits fold to ASCII
        ("yamada-taro-haru", "contains_username", "ユーザー名"),
        ("ORADAMAY-kumo-haru", "contains_username", "ユーザー名"),  # the name reversed, in capitals
        ("Mine-no-yama-kawa", "contains_council_name", "「mine」"),
        ("美祢の秋吉台はとてもきれいです", "contains_council_name", "「美祢」"),
        ("SHAKYO-office-77", "contains_council_name", "「shakyo」"),
        ("Password2024!", "common", "よく使われている"),
        ("P@ssw0rd12345", "common", "よく使われている"),
        ("2026Yamaguchi#", "common", "よく使われている"),
        ("aaaa-Blue-sky-7", "repeated", "「aaaa」"),
        ("abcXYZabcXYZ", "repeated", "繰り返し"),
        ("Blue-sky-12345x", "sequential", "「12345」"),
        ("qwert-Yellow-9z", "sequential", "「qwert」"),
        ("Kumo-98765-sora", "sequential", "「98765」"),
        ("あいうえお-Kumo-sora", "sequential", "「あいうえお」"),
        ("aabbaabbccdd", "few_distinct", "種類"),
    ],
)
def test_password_policy_refusals(password: str, code: str, fragment: str) -> None:
    with pytest.raises(PasswordPolicyError) as err:
        PasswordPolicy().check(password, username="yamada")
    assert err.value.code == code
    assert fragment in err.value.message_ja


@pytest.mark.parametrize("password", [GOOD, GOOD2, "correct horse battery staple", "Kaki to kuri 3 ko!"])
def test_password_policy_accepts_good_passwords(password: str) -> None:
    PasswordPolicy().check(password, username="yamada")


def test_minimum_length_is_configurable() -> None:
    with pytest.raises(PasswordPolicyError) as err:
        PasswordPolicy(min_length=24).check(GOOD)
    assert "24文字以上" in err.value.message_ja
    PasswordPolicy(min_length=8).check("Kaki-9-kuri")


def test_create_get_list(store: AccountStore, r: redis.Redis) -> None:
    store.create("Admin.Sato", GOOD, Role.ADMIN, display_name="佐藤 一郎", now=T0)
    store.create("yamada", GOOD2, "staff", display_name="山田 花子", by="admin.sato", now=T0)
    a = store.get("ADMIN.SATO")  # names are case-insensitive
    assert a is not None and a.username == "admin.sato" and a.role is Role.ADMIN
    assert a.created_at == T0 and a.password_changed_at == T0 and not a.disabled
    assert a.label == "佐藤 一郎（管理者）"
    assert [x.username for x in store.list()] == ["admin.sato", "yamada"]
    assert store.get("nobody") is None
    # Only a hash is stored, never the password.
    stored = r.hget(user_key("yamada"), "password_hash")
    assert stored.startswith("$argon2id$") and GOOD2 not in stored
    created = [e for e in AuditLog(r).entries() if e.action == "account_created"]
    assert [(e.actor, e.role, e.note) for e in created] == [
        ("system", "system", "admin.sato（管理者）"),
        ("admin.sato", "admin", "yamada（職員）"),
    ]
    assert role_of(r, "yamada") == "staff" and role_of(r, "system") == "system"


def test_create_refusals(store: AccountStore) -> None:
    store.create("yamada", GOOD, Role.STAFF)
    with pytest.raises(AccountError) as err:
        store.create("Yamada", GOOD2, Role.STAFF)
    assert err.value.code == "exists" and "すでに使われています" in err.value.message_ja
    with pytest.raises(AccountError) as err:
        store.create("山田", GOOD, Role.STAFF)
    assert err.value.code == "bad_username"
    with pytest.raises(AccountError) as err:
        store.create("tanaka", GOOD, "boss")
    assert err.value.code == "bad_role" and "職員・課長・管理者" in err.value.message_ja
    with pytest.raises(PasswordPolicyError):
        store.create("tanaka", "tanaka-is-here-1", Role.STAFF)
    assert store.get("tanaka") is None


def test_authenticate(store: AccountStore) -> None:
    store.create("yamada", GOOD, Role.STAFF, now=T0)
    ok = store.authenticate("yamada", GOOD, now=T0 + timedelta(hours=1))
    assert ok is not None and ok.last_login_at == T0 + timedelta(hours=1)
    assert store.authenticate("yamada", GOOD.upper()) is None
    assert store.authenticate("nobody", GOOD) is None
    # Full-width input of the same password is the same password.
    assert store.authenticate("yamada", "Ｔｓｕｂａｋｉ－ｎｏ－ｈａｎａ－２０２６") is not None


def test_weak_hash_is_upgraded_on_login(r: redis.Redis) -> None:
    AccountStore(r, hasher=cheap_hasher()).create("yamada", GOOD, Role.STAFF)
    old = r.hget(user_key("yamada"), "password_hash")
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    assert stronger.check_needs_rehash(old)
    assert AccountStore(r, hasher=stronger).authenticate("yamada", GOOD) is not None
    new = r.hget(user_key("yamada"), "password_hash")
    assert new != old and not stronger.check_needs_rehash(new)
    assert AccountStore(r, hasher=stronger).authenticate("yamada", GOOD) is not None


def test_set_password_rules(store: AccountStore, r: redis.Redis) -> None:
    store.create("admin", GOOD, Role.ADMIN, now=T0)
    store.create("yamada", GOOD, Role.STAFF, now=T0)
    with pytest.raises(PasswordPolicyError) as err:
        store.set_password("yamada", GOOD)
    assert err.value.code == "unchanged"
    with pytest.raises(AccountError) as err:
        store.change_own_password("yamada", "wrong-password-x", GOOD2)
    assert err.value.code == "wrong_password"

    # An administrator's reset: the user must choose their own at next login.
    later = T0 + timedelta(days=10)
    reset = store.set_password("yamada", "Kari-no-kagi-8521", by="admin", now=later)
    assert reset.must_change_password and reset.password_changed_at == later
    assert "管理者が発行した" in reset.password_change_reason(later, store.policy)
    assert store.authenticate("yamada", GOOD) is None

    own = store.change_own_password("yamada", "Kari-no-kagi-8521", GOOD2, now=later + timedelta(hours=1))
    assert not own.must_change_password
    assert own.password_change_reason(later + timedelta(hours=1), store.policy) == ""
    actions = [(e.action, e.actor) for e in AuditLog(r).entries() if "password" in e.action]
    assert actions == [("account_password_reset", "admin"), ("account_password_changed", "yamada")]


def test_password_age_limit(r: redis.Redis) -> None:
    store = AccountStore(r, hasher=cheap_hasher())
    account = store.create("yamada", GOOD, Role.STAFF, now=T0)
    assert account.password_change_reason(T0 + timedelta(days=179), store.policy) == ""
    reason = account.password_change_reason(T0 + timedelta(days=180), store.policy)
    assert "有効期限（180日）" in reason
    short = PasswordPolicy(max_age_days=30)
    assert account.password_change_reason(T0 + timedelta(days=31), short) != ""
    assert account.password_change_reason(T0 + timedelta(days=3000), PasswordPolicy(max_age_days=0)) == ""
    # A new password restarts the clock.
    renewed = store.set_password("yamada", GOOD2, now=T0 + timedelta(days=200))
    assert renewed.password_change_reason(T0 + timedelta(days=201), store.policy) == ""


def test_disable_enable_and_last_admin(store: AccountStore) -> None:
    store.create("admin", GOOD, Role.ADMIN)
    store.create("yamada", GOOD, Role.STAFF)
    assert store.disable("yamada", by="admin").disabled
    assert store.authenticate("yamada", GOOD) is None
    store.enable("yamada", by="admin")
    assert store.authenticate("yamada", GOOD) is not None

    with pytest.raises(AccountError) as err:
        store.disable("admin", by="system")  # the command line; the UI refuses self-disabling first
    assert err.value.code == "last_admin"
    with pytest.raises(AccountError):
        store.set_role("admin", Role.STAFF, by="admin")
    assert store.set_role("yamada", Role.ADMIN, by="admin").role is Role.ADMIN
    assert store.set_role("admin", Role.CHIEF, by="yamada").role is Role.CHIEF
    with pytest.raises(AccountError) as err:
        store.disable("ghost", by="admin")
    assert err.value.code == "not_found"


def test_password_memos_never_name_the_password_and_own_change_is_described(
    r: redis.Redis, store: AccountStore
) -> None:
    store.create("yamada", GOOD, Role.STAFF, by="admin", now=T0)
    store.set_password("yamada", "Kari-no-kagi-8521", by="admin", now=T0)
    store.change_own_password("yamada", "Kari-no-kagi-8521", GOOD2, now=T0)
    notes = {e.action: e.note for e in AuditLog(r).entries() if "password" in e.action}
    assert notes == {
        "account_password_reset": "yamada の仮パスワードを発行",
        "account_password_changed": "本人が変更",
    }


def test_an_administrator_cannot_disable_their_own_account(store: AccountStore) -> None:
    store.create("admin1", GOOD, Role.ADMIN, now=T0)
    store.create("admin2", GOOD2, Role.ADMIN, now=T0)
    with pytest.raises(AccountError) as refused:
        store.disable("Admin1", by="admin1")
    assert refused.value.code == "self" and store.get("admin1").disabled is False  # type: ignore[union-attr]
    assert store.disable("admin1", by="admin2").disabled
