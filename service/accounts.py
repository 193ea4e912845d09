"""Staff accounts (職員・課長・管理者) and the password rules of policy 3(1)カ.

Policy 3(1)カ: passwords must not be guessable, must be kept secret and must be changed regularly. So a new
password is checked against a minimum length, a list of common passwords, the user's own name, the
council's names, repeated and sequential characters; it expires after a configurable number of days; and
it is stored only as an argon2 hash, upgraded on login when the hashing parameters are raised.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from service.audit import AuditEntry, AuditLog

JST = ZoneInfo("Asia/Tokyo")

USERS_KEY = "{shakyo}:users"


def user_key(username: str) -> str:
    return f"{{shakyo}}:user:{username}"


class Role(StrEnum):
    STAFF = "staff"  # 職員: reviews the queue and acts on comments
    CHIEF = "chief"  # 課長: also approves escalations and reads the audit log (policy 4(1))
    ADMIN = "admin"  # 管理者: also manages accounts and settings

    @property
    def ja(self) -> str:
        return ROLE_LABELS_JA[self]

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


ROLE_LABELS_JA: dict[Role, str] = {Role.STAFF: "職員", Role.CHIEF: "課長", Role.ADMIN: "管理者"}
_RANK = {Role.STAFF: 1, Role.CHIEF: 2, Role.ADMIN: 3}


class AccountError(Exception):
    """A refusal to show to staff as it is."""

    def __init__(self, message_ja: str, code: str = "") -> None:
        super().__init__(message_ja)
        self.message_ja = message_ja
        self.code = code


class PasswordPolicyError(AccountError):
    pass


# Written for this project: the passwords people pick first, in the forms Japanese offices use. Checked
# after folding case, width, leetspeak and leading/trailing digits and symbols (see _guess_forms).
_COMMON_PASSWORDS_TEXT = """
    password passw0rd passwort pass pasuwado pasuwaado himitsu secret letmein welcome welcomeback
    iloveyou loveyou aishiteru daisuki suki qwerty qwertyuiop asdfghjkl zxcvbnm qazwsx abc abcd abcdef
    abcdefg abcdefgh abcdefghijkl admin administrator root user guest test tester demo default changeme
    login master manager staff office shokuin kanri kanrisha jimukyoku soumu somu fukushi shakaifukushi
    kyougikai kyogikai volunteer borantia kaigo hoiku shien sakura momiji hanako taro tarou yamada
    suzuki tanaka sato satou takahashi doraemon pokemon pikachu totoro ghibli anpanman gundam naruto
    onepiece dragon monkey tiger baseball yakyu soccer sakka football tennis golf music piano guitar
    summer winter spring autumn sunshine flower princess angel superman batman starwars hello hellohello
    goodbye konnichiwa ohayou arigatou sayonara tokyo osaka kyoto hiroshima fukuoka yamaguchi ube
    shimonoseki hagi nagato akiyoshidai akiyoshido akiyoshi shuho kotou isa beppu japan nippon nihon
    facebook instagram google apple iphone android computer internet windows microsoft samurai ninja
    sushi ramen udon pass1234 abc123 abcd1234 password1 qwerty123 iloveyou1 trustno1 access mypassword
    newpassword oldpassword temp temporary kari karipass
"""
COMMON_PASSWORDS: frozenset[str] = frozenset(_COMMON_PASSWORDS_TEXT.split())

# The council's names in the spellings staff are likely to use (policy: names of the organisation are guessable).
COUNCIL_WORDS: tuple[str, ...] = (
    "美祢",
    "美禰",
    "みね",
    "ミネ",
    "mine",
    "社協",
    "しゃきょう",
    "シャキョウ",
    "shakyo",
    "syakyo",
    "shakyou",
    "syakyou",
)

# Rows people sweep along; a run of 5 from any of them (either direction) counts as sequential.
_SEQUENCES: tuple[str, ...] = (
    "0123456789",
    "abcdefghijklmnopqrstuvwxyz",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "1qaz2wsx3edc4rfv5tgb",
    "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん",
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン",
)
_SEQUENCE_RUN = 5
_REPEAT_RUN = 4
_MIN_DISTINCT = 5
_MAX_LENGTH = 128
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
)
_USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{1,31}")


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    min_length: int = 12
    max_age_days: int = 180  # 0 turns the age limit off
    council_words: tuple[str, ...] = COUNCIL_WORDS
    common_passwords: frozenset[str] = COMMON_PASSWORDS

    def check(self, password: str, *, username: str = "") -> None:
        """Raise PasswordPolicyError (with a Japanese message) for the first rule the password breaks."""
        pw = normalise_password(password)
        folded = pw.casefold()
        if len(pw) < self.min_length:
            raise PasswordPolicyError(
                f"パスワードは{self.min_length}文字以上にしてください（入力は{len(pw)}文字です）。",
                "too_short",
            )
        if len(pw) > _MAX_LENGTH:
            raise PasswordPolicyError(f"パスワードは{_MAX_LENGTH}文字以内にしてください。", "too_long")
        if pw.isdigit():
            raise PasswordPolicyError(
                "数字だけのパスワードは推測されやすいため使えません。英字・記号・かななどを組み合わせてください。",
                "digits_only",
            )
        name = normalise_password(username).casefold()
        if len(name) >= 3 and (name in folded or name[::-1] in folded):
            raise PasswordPolicyError(
                "ユーザー名を含むパスワードは推測されやすいため使えません。", "contains_username"
            )
        for word in self.council_words:
            if word.casefold() in folded:
                raise PasswordPolicyError(
                    f"「{word}」のように社協や美祢市の名前を含むパスワードは推測されやすいため使えません。",
                    "contains_council_name",
                )
        if any(form in self.common_passwords for form in _guess_forms(folded)):
            raise PasswordPolicyError(
                "よく使われているパスワードのため使えません。他の人が思いつかない言葉を組み合わせてください。",
                "common",
            )
        run = _repeated_run(folded)
        if run:
            raise PasswordPolicyError(
                f"「{run}」のように同じ文字を続けたパスワードは使えません。", "repeated"
            )
        if _is_repetition(folded):
            raise PasswordPolicyError("同じ並びを繰り返しただけのパスワードは使えません。", "repeated")
        run = _sequential_run(folded)
        if run:
            raise PasswordPolicyError(
                f"「{run}」のような連続した文字やキーボードの並びを含むパスワードは使えません。", "sequential"
            )
        if len(set(folded)) < _MIN_DISTINCT:
            raise PasswordPolicyError(
                "使われている文字の種類が少なすぎます。いろいろな文字を組み合わせてください。", "few_distinct"
            )


def normalise_password(password: str) -> str:
    """NFKC, so a password typed with full-width or half-width input gives the same hash."""
    return unicodedata.normalize("NFKC", password)


def _guess_forms(folded: str) -> set[str]:
    compact = re.sub(r"[\s_.\-]+", "", folded)
    forms = {folded, compact, compact.translate(_LEET)}
    # "Password2024!" and "2024password" are the common word with decoration around it.
    for f in list(forms):
        forms.add(re.sub(r"^[\d\W_]+|[\d\W_]+$", "", f))
    forms |= {f.translate(_LEET) for f in forms}
    return forms


def _repeated_run(s: str) -> str:
    m = re.search(rf"(.)\1{{{_REPEAT_RUN - 1},}}", s)
    return m.group(0) if m else ""


def _is_repetition(s: str) -> bool:
    n = len(s)
    return any(n % k == 0 and s[:k] * (n // k) == s for k in range(1, n // 2 + 1))


def _sequential_run(s: str) -> str:
    for i in range(len(s) - _SEQUENCE_RUN + 1):
        chunk = s[i : i + _SEQUENCE_RUN]
        for seq in _SEQUENCES:
            if chunk in seq or chunk[::-1] in seq:
                return chunk
    return ""


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    display_name: str
    role: Role
    created_at: datetime
    password_changed_at: datetime
    disabled: bool = False
    must_change_password: bool = False  # set when an administrator issued the password
    last_login_at: datetime | None = None

    @property
    def label(self) -> str:
        """How the UI names the user: 山田 太郎（課長）."""
        return f"{self.display_name or self.username}（{self.role.ja}）"

    def password_expires_at(self, policy: PasswordPolicy) -> datetime | None:
        if policy.max_age_days <= 0:
            return None
        return self.password_changed_at + timedelta(days=policy.max_age_days)

    def password_change_reason(self, now: datetime, policy: PasswordPolicy) -> str:
        """Why the user must set a new password before going on (Japanese), or "" when they need not."""
        if self.must_change_password:
            return "管理者が発行したパスワードです。ご自分だけが知るパスワードに変更してください。"
        expires = self.password_expires_at(policy)
        if expires is not None and now >= expires:
            return f"パスワードの有効期限（{policy.max_age_days}日）が過ぎました。新しいパスワードに変更してください。"
        return ""


def role_of(r: redis.Redis, username: str) -> str:
    """The role value recorded in audit entries: the account's role, or "system" for automatic steps."""
    return r.hget(user_key(username), "role") or "system"


def audit_by(
    r: redis.Redis,
    pipe: redis.client.Pipeline,
    by: str,
    action: str,
    when: datetime,
    *,
    note: str = "",
    detail: str = "",
) -> None:
    """Audit, inside the caller's transaction, an event that is not about one queue item (accounts,
    緊急モード, flare-ups), with the role the actor has now."""
    AuditLog(r).append(
        AuditEntry(
            at=when.timestamp(),
            actor=by,
            role=role_of(r, by),
            action=action,
            item_id="",
            note=note,
            detail=detail,
        ),
        pipe=pipe,
    )


def _ts(dt: datetime) -> str:
    return repr(dt.timestamp())


def _dt(value: str | None) -> datetime | None:
    return datetime.fromtimestamp(float(value), JST) if value else None


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(JST)
    if now.tzinfo is None:
        raise ValueError("timezone-aware datetime required")
    return now.astimezone(JST)


class AccountStore:
    """Accounts as Redis hashes `{shakyo}:user:<name>`, with the set of names in `{shakyo}:users`.

    Changes are written to the audit log in the same transaction, with the acting user (`by`).
    """

    def __init__(
        self, r: redis.Redis, *, policy: PasswordPolicy | None = None, hasher: PasswordHasher | None = None
    ) -> None:
        self._r = r
        self.policy = policy or PasswordPolicy()
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash = ""

    # -- reading --------------------------------------------------------------------------------------

    def get(self, username: str) -> Account | None:
        data = self._r.hgetall(user_key(normalise_username(username)))
        return _decode(data) if data else None

    def list(self) -> list[Account]:
        names = sorted(self._r.smembers(USERS_KEY))
        pipe = self._r.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(user_key(name))
        return [_decode(d) for d in pipe.execute() if d]

    # -- changes --------------------------------------------------------------------------------------

    def create(
        self,
        username: str,
        password: str,
        role: Role | str,
        *,
        display_name: str = "",
        must_change_password: bool = False,
        by: str = "system",
        now: datetime | None = None,
    ) -> Account:
        name = normalise_username(username)
        if not _USERNAME_RE.fullmatch(name):
            raise AccountError(
                "ユーザー名は半角英小文字・数字と「. _ -」で、2〜32文字にしてください（先頭は英数字）。",
                "bad_username",
            )
        role = _role(role)
        self.policy.check(password, username=name)
        when = _now(now)
        password_hash = self._hasher.hash(normalise_password(password))
        # SADD answers 0 for a name already taken, so two admins creating the same name cannot both win.
        if not self._r.sadd(USERS_KEY, name):
            raise AccountError(f"ユーザー名「{name}」はすでに使われています。", "exists")
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(
            user_key(name),
            mapping={
                "username": name,
                "display_name": display_name.strip(),
                "role": role.value,
                "password_hash": password_hash,
                "created_at": _ts(when),
                "password_changed_at": _ts(when),
                "disabled": "0",
                "must_change_password": "1" if must_change_password else "0",
            },
        )
        self._audit(pipe, by, "account_created", when, note=f"{name}（{role.ja}）")
        pipe.execute()
        account = self.get(name)
        assert account is not None  # nosec B101  # narrows the type: just written in the transaction above
        return account

    def authenticate(self, username: str, password: str, *, now: datetime | None = None) -> Account | None:
        """The account when the password is right and the account enabled, else None (no reason given).

        An unknown name still costs one hash verification, so response time does not reveal which names
        exist. A hash made with weaker parameters than the current ones is replaced on success.
        """
        name = normalise_username(username)
        stored = self._r.hget(user_key(name), "password_hash")
        pw = normalise_password(password)
        if stored is None:
            self._verify(self._dummy(), pw)
            return None
        if not self._verify(stored, pw):
            return None
        when = _now(now)
        fields = {"last_login_at": _ts(when)}
        if self._hasher.check_needs_rehash(stored):
            fields["password_hash"] = self._hasher.hash(pw)
        account = self.get(name)
        if account is None or account.disabled:
            return None
        self._r.hset(user_key(name), mapping=fields)
        return self.get(name)

    def set_password(
        self, username: str, new_password: str, *, by: str | None = None, now: datetime | None = None
    ) -> Account:
        """Set a new password. One set by someone else (an administrator's reset) must be changed at next login."""
        name = normalise_username(username)
        by = by or name
        stored = self._r.hget(user_key(name), "password_hash")
        if stored is None:
            raise AccountError(f"ユーザー「{name}」は登録されていません。", "not_found")
        self.policy.check(new_password, username=name)
        pw = normalise_password(new_password)
        if self._verify(stored, pw):
            raise PasswordPolicyError("今と同じパスワードには変更できません。", "unchanged")
        when = _now(now)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(
            user_key(name),
            mapping={
                "password_hash": self._hasher.hash(pw),
                "password_changed_at": _ts(when),
                "must_change_password": "0" if by == name else "1",
            },
        )
        # The memo names whose password an administrator reset; one's own change needs no name (the actor
        # column says who), and no memo ever carries anything typed into a password field.
        if by == name:
            self._audit(pipe, by, "account_password_changed", when, note="本人が変更")
        else:
            self._audit(pipe, by, "account_password_reset", when, note=f"{name} の仮パスワードを発行")
        pipe.execute()
        return self._require(name)

    def change_own_password(
        self, username: str, current_password: str, new_password: str, *, now: datetime | None = None
    ) -> Account:
        name = normalise_username(username)
        stored = self._r.hget(user_key(name), "password_hash")
        if stored is None or not self._verify(stored, normalise_password(current_password)):
            raise AccountError("現在のパスワードが違います。", "wrong_password")
        return self.set_password(name, new_password, by=name, now=now)

    def set_role(self, username: str, role: Role | str, *, by: str, now: datetime | None = None) -> Account:
        name = normalise_username(username)
        account = self._require(name)
        role = _role(role)
        if account.role is Role.ADMIN and role is not Role.ADMIN:
            self._keep_one_admin(name)
        when = _now(now)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(user_key(name), "role", role.value)
        self._audit(pipe, by, "account_role_changed", when, note=f"{name}: {account.role.ja}→{role.ja}")
        pipe.execute()
        return self._require(name)

    def disable(self, username: str, *, by: str, now: datetime | None = None) -> Account:
        """Stop the account from logging in; sessions check `disabled` on every request."""
        name = normalise_username(username)
        account = self._require(name)
        # Disabling oneself ends one's own session at once, with nobody left on the page to undo it.
        if name == normalise_username(by):
            raise AccountError("自分のアカウントは無効にできません。別の管理者に依頼してください。", "self")
        if account.role is Role.ADMIN:
            self._keep_one_admin(name)
        return self._set_disabled(name, True, by=by, now=now)

    def enable(self, username: str, *, by: str, now: datetime | None = None) -> Account:
        self._require(normalise_username(username))
        return self._set_disabled(normalise_username(username), False, by=by, now=now)

    # -- helpers --------------------------------------------------------------------------------------

    def _set_disabled(self, name: str, disabled: bool, *, by: str, now: datetime | None) -> Account:
        when = _now(now)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(user_key(name), mapping={"disabled": "1" if disabled else "0", "disabled_at": _ts(when)})
        self._audit(pipe, by, "account_disabled" if disabled else "account_enabled", when, note=name)
        pipe.execute()
        return self._require(name)

    def _keep_one_admin(self, leaving: str) -> None:
        others = [a for a in self.list() if a.role is Role.ADMIN and not a.disabled and a.username != leaving]
        if not others:
            raise AccountError("有効な管理者が1人もいなくなるため、この操作はできません。", "last_admin")

    def _require(self, name: str) -> Account:
        account = self.get(name)
        if account is None:
            raise AccountError(f"ユーザー「{name}」は登録されていません。", "not_found")
        return account

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        if not self._dummy_hash:
            self._dummy_hash = self._hasher.hash("not a password of anybody")
        return self._dummy_hash

    def _audit(self, pipe: redis.client.Pipeline, by: str, action: str, when: datetime, *, note: str) -> None:
        audit_by(self._r, pipe, by, action, when, note=note)


def normalise_username(username: str) -> str:
    return unicodedata.normalize("NFKC", username).strip().lower()


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AccountError(
            f"権限「{role}」はありません（職員・課長・管理者のいずれかです）。", "bad_role"
        ) from None


def _decode(d: dict[str, str]) -> Account:
    return Account(
        username=d["username"],
        display_name=d.get("display_name", ""),
        role=Role(d["role"]),
        created_at=datetime.fromtimestamp(float(d["created_at"]), JST),
        password_changed_at=datetime.fromtimestamp(float(d["password_changed_at"]), JST),
        disabled=d.get("disabled") == "1",
        must_change_password=d.get("must_change_password") == "1",
        last_login_at=_dt(d.get("last_login_at")),
    )
