"""Connecting the Meta app to the council's Page and Instagram account, and reading that connection back.

What Meta needs before it delivers a single comment (checked against Meta's documentation, Graph API v26.0):
- App level: the Webhooks product subscribed to the `page` object's `feed` field and the `instagram` object's
  `comments` and `live_comments` fields (read with `GET /{app-id}/subscriptions` and the app access token).
  Only fields subscribed at both the app and the Page level are delivered.
- Page level: the Page has installed the app, `POST /{page-id}/subscribed_apps` with `subscribed_fields=feed`
  and a Page access token (pages_manage_metadata, pages_show_list); `GET` on the same edge reads it back.
- Instagram with Facebook Login: the account is the Page's `instagram_business_account` and its notifications
  come through the Page's installation above (instagram_basic, instagram_manage_comments, pages_manage_metadata,
  pages_read_engagement, pages_show_list).
- Instagram with Instagram Login: `POST /{ig-user-id}/subscribed_apps` with `subscribed_fields=comments,live_comments`
  on graph.instagram.com and the Instagram user token (instagram_business_basic, instagram_business_manage_comments).
- A live Page also needs Advanced Access for those permissions, business verification and a published app;
  no API call reports those, so the fixes below name them.

Tokens: `GET /debug_token?input_token=…` with the app token `{app-id}|{app-secret}` gives the token's type,
validity, `expires_at` and `data_access_expires_at` (0: never) and its `scopes`; `GET /me` names the Page or
person it belongs to; without the app id, `GET /me/permissions` lists a user token's permissions (a Page token's
cannot be listed then). `MetaConnection.connect()` changes only what is missing, so running it again is safe.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from webhooks.graph import GraphClient, GraphReply

Mark = Literal["ok", "fail", "skip"]
Platform = Literal["facebook", "instagram"]

PAGE_FIELDS = ("feed",)
INSTAGRAM_FIELDS = ("comments", "live_comments")
FACEBOOK_PERMISSIONS = (
    "pages_show_list",
    "pages_manage_metadata",
    "pages_read_engagement",
    "pages_manage_engagement",  # delete and hide Page comments
)
INSTAGRAM_PERMISSIONS = {
    "facebook": (
        "instagram_basic",
        "instagram_manage_comments",
        "pages_show_list",
        "pages_manage_metadata",
        "pages_read_engagement",
    ),
    "instagram": ("instagram_business_basic", "instagram_business_manage_comments"),
}
_JST = timezone(timedelta(hours=9))
_DAY = 86400
_PLATFORM_JA = {"facebook": "Facebook", "instagram": "Instagram"}
_TOKEN_ENV = {"facebook": "SHAKYO_FACEBOOK_PAGE_TOKEN", "instagram": "SHAKYO_INSTAGRAM_TOKEN"}

# What to do in the Meta App Dashboard (https://developers.facebook.com/apps/) for each ✘.
_USE_CASE = {
    "facebook": "「Manage everything on your Page」",
    "instagram": "「Manage messaging and content on Instagram」",
}
FIX_TOKEN = (
    "「Graph API Explorer」（developers.facebook.com/tools/explorer）で「Meta App」にこのアプリ、"  # nosec B105  # a message to staff
    "「User or Page」に社協のページを選んで必要な権限を付けたトークンを取得し、長期トークンに交換してから "
    ".env の {env} に設定し、サービスを再起動してください（README「Metaとの接続」の手順4）。"
)
FIX_PERMISSION = (
    "アプリダッシュボードの「Use cases」→ {use_case} の「Customize」→「Permissions and features」で {perms} を"
    "「Add」してください。本番のページでは「App Review」で Advanced Access の承認と「Business verification」が必要です。"
    "そのあと権限を付けてトークンを取り直してください。"
)
FIX_NOT_MANAGED = (
    "トークンを取得したFacebookアカウントが、このページの管理者（コンテンツ作成・管理・モデレーションのいずれかの"
    "権限）になっていません。ページの管理者にページへのアクセス権を付けてもらい、そのアカウントでトークンを取り直すか、"
    "SHAKYO_FACEBOOK_PAGE_ID が正しいか確かめてください。"
)
FIX_USER_TOKEN = (
    "ユーザーのトークンが設定されています。コメントの削除・非表示とWebhookの登録にはページのトークンが必要です。"  # nosec B105  # a message to staff
    "「Graph API Explorer」の「User or Page」で社協のページを選んで取得したトークンを設定してください。"
)
FIX_APP_MISMATCH = "このトークンは別のアプリで発行されています。SHAKYO_META_APP_ID のアプリを「Meta App」に選んでトークンを取り直してください。"
FIX_SUBSCRIBE = "`shakyo-mod meta connect` を実行してください（何度実行しても安全です）。"
FIX_APP_WEBHOOKS = (
    "アプリダッシュボードの「Webhooks」（見当たらないときは「Use cases」→「Customize」の中）で「{object}」を選び、"
    "Callback URL（https://<このサービスのホスト>/webhooks/meta）と Verify token（SHAKYO_META_VERIFY_TOKEN と同じ文字列）を"
    "「Verify and save」で登録し、{fields} の「Subscribe」を押してください。"
)
FIX_IG_LINK = (
    "Instagramのプロアカウント（ビジネス）を社協のFacebookページにつないでください（Instagramアプリの"
    "「プロフェッショナルダッシュボード」またはMeta Business Suiteの設定）。SHAKYO_INSTAGRAM_ACCOUNT_ID も確かめてください。"
)
FIX_IG_NEEDS_PAGE = (
    "FacebookログインでInstagramにつなぐときはページ経由になるため、SHAKYO_FACEBOOK_PAGE_ID と "
    "SHAKYO_FACEBOOK_PAGE_TOKEN も設定してください（Instagramログインを使うなら SHAKYO_INSTAGRAM_LOGIN=instagram）。"
)
FIX_APP_SECRET = "アプリダッシュボードの「App settings」→「Basic」の「App secret」を .env の SHAKYO_META_APP_SECRET に設定してください。"  # nosec B105  # a message to staff
FIX_APP_ID = (
    "アプリダッシュボードの「App settings」→「Basic」の「App ID」を .env の SHAKYO_META_APP_ID に設定すると、"
    "権限と有効期限も確かめます。"
)


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the checklist."""

    key: str
    mark: Mark  # ok ✔, fail ✘, skip (not checked, and why)
    label: str
    detail: str
    fix: str = ""  # what to do, for a ✘

    @property
    def symbol(self) -> str:
        return {"ok": "✔", "fail": "✘", "skip": "－"}[self.mark]


@dataclass(slots=True)
class TokenStatus:
    """What Meta says about one configured token. Times are epoch seconds; 0 means never, None unknown."""

    platform: str
    owner_id: str = ""
    owner_name: str = ""
    kind: str = ""  # PAGE, USER (debug_token's type) or "" when unknown
    valid: bool | None = None
    expires_at: int | None = None
    data_access_expires_at: int | None = None
    scopes: list[str] | None = None
    error: str = ""  # why Meta refused it, in Japanese

    @property
    def lapses_at(self) -> int | None:
        """When the token stops working: the earlier of its expiry and its data-access expiry (0: never)."""
        known = [t for t in (self.expires_at, self.data_access_expires_at) if t is not None]
        if not known:
            return None
        dated = [t for t in known if t > 0]
        return min(dated) if dated else 0


@dataclass(slots=True)
class ConnectionReport:
    checked_at: float
    checks: list[Check] = field(default_factory=list)
    tokens: dict[str, TokenStatus] = field(default_factory=dict)
    subscribed: dict[str, list[str] | None] = field(default_factory=dict)  # fields read back, per platform
    changed: list[str] = field(default_factory=list)  # what this run subscribed

    @property
    def ok(self) -> bool:
        return all(c.mark != "fail" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ConnectionReport:
        return cls(
            checked_at=float(raw["checked_at"]),
            checks=[Check(**c) for c in raw.get("checks", [])],
            tokens={k: TokenStatus(**v) for k, v in raw.get("tokens", {}).items()},
            subscribed=dict(raw.get("subscribed", {})),
            changed=list(raw.get("changed", [])),
        )


@dataclass(frozen=True, slots=True)
class MetaTarget:
    """The ids and tokens from the settings; token values never leave this module's calls."""

    page_id: str | None
    instagram_account_id: str | None
    page_token: str
    instagram_token: str
    app_id: str | None
    app_secret: str
    instagram_login: Literal["facebook", "instagram"] = "facebook"
    instagram_api_url: str = "https://graph.instagram.com/v26.0"


class MetaConnection:
    def __init__(
        self, client: GraphClient, target: MetaTarget, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._graph = client
        self._t = target
        self._clock = clock

    def status(self) -> ConnectionReport:
        """Read-only: tokens, permissions, expiry and subscriptions as Meta has them now."""
        return self._run(subscribe=False)

    def connect(self) -> ConnectionReport:
        """Subscribe the Page and the Instagram account where they are not yet, then read everything back."""
        return self._run(subscribe=True)

    # -- the run ---------------------------------------------------------------------------------

    def _run(self, *, subscribe: bool) -> ConnectionReport:
        t = self._t
        report = ConnectionReport(checked_at=self._clock())
        add = report.checks.append
        if not t.app_secret:
            add(
                Check(
                    "app_secret",
                    "fail",
                    "アプリシークレット",
                    "SHAKYO_META_APP_SECRET が未設定です。",
                    FIX_APP_SECRET,
                )
            )
            return report
        if not t.page_id and not t.instagram_account_id:
            add(
                Check(
                    "ids",
                    "fail",
                    "接続先",
                    "SHAKYO_FACEBOOK_PAGE_ID も SHAKYO_INSTAGRAM_ACCOUNT_ID も未設定です。",
                    "READMEの手順で調べたページID・InstagramアカウントIDを .env に設定してください。",
                )
            )
            return report
        if t.app_id:
            self._app_webhooks(report)
        else:
            add(
                Check(
                    "app_id",
                    "skip",
                    "アプリID",
                    "SHAKYO_META_APP_ID が未設定のため、一部を確かめられません。",
                    FIX_APP_ID,
                )
            )
        if t.page_id:
            self._facebook(report, subscribe)
        if t.instagram_account_id:
            if t.instagram_login == "instagram":
                self._instagram_login(report, subscribe)
            else:
                self._instagram_via_page(report)
        return report

    def _app_webhooks(self, report: ConnectionReport) -> None:
        t = self._t
        reply = self._get(f"{t.app_id}/subscriptions", self._app_token)
        label = "アプリのWebhook設定"
        if not reply.ok:
            report.checks.append(Check("app_webhooks", "fail", label, _refused(reply), FIX_APP_SECRET))
            return
        have: dict[str, set[str]] = {}
        for sub in _data(reply):
            if sub.get("active", True):
                names = {f.get("name") if isinstance(f, dict) else f for f in sub.get("fields", [])}
                have[str(sub.get("object"))] = {str(n) for n in names if n}
        wanted = []
        if t.page_id:
            wanted.append(("page", "Page", PAGE_FIELDS))
        if t.instagram_account_id:
            wanted.append(("instagram", "Instagram", INSTAGRAM_FIELDS))
        for obj, obj_ja, fields in wanted:
            missing = [f for f in fields if f not in have.get(obj, set())]
            key = f"app_webhooks_{obj}"
            if missing:
                fix = FIX_APP_WEBHOOKS.format(object=obj_ja, fields="・".join(missing))
                detail = f"「{obj_ja}」の {', '.join(missing)} が購読されていません。"
                report.checks.append(Check(key, "fail", f"{label}（{obj_ja}）", detail, fix))
            else:
                detail = f"「{obj_ja}」の {', '.join(fields)} を購読しています。"
                report.checks.append(Check(key, "ok", f"{label}（{obj_ja}）", detail))

    def _facebook(self, report: ConnectionReport, subscribe: bool) -> None:
        t = self._t
        status = self._token("facebook", t.page_token, FACEBOOK_PERMISSIONS, report)
        if status is None or status.valid is False:
            return
        if not self._manages_page(status, report):
            return
        report.subscribed["facebook"] = self._page_subscription(report, subscribe)

    def _manages_page(self, status: TokenStatus, report: ConnectionReport) -> bool:
        page_id = self._t.page_id or ""
        label = "ページの管理"
        if status.owner_id == page_id:
            detail = f"「{status.owner_name}」（{page_id}）のページのトークンです。"
            report.checks.append(Check("facebook_page", "ok", label, detail))
            return True
        accounts = self._get("me/accounts", self._t.page_token, {"fields": "id,name", "limit": "100"})
        if accounts.ok:  # only a user token has /me/accounts
            pages = {str(p.get("id")): str(p.get("name", "")) for p in _data(accounts)}
            if page_id in pages:
                detail = f"「{status.owner_name}」さんのユーザーのトークンです（ページ「{pages[page_id]}」を管理しています）。"
                report.checks.append(Check("facebook_page", "fail", label, detail, FIX_USER_TOKEN))
            else:
                detail = (
                    f"トークンの持ち主「{status.owner_name}」さんは、ページ {page_id} を管理していません。"
                )
                report.checks.append(Check("facebook_page", "fail", label, detail, FIX_NOT_MANAGED))
            return False
        detail = (
            f"このトークンは別のページ「{status.owner_name}」（{status.owner_id}）のものです。"
            f"設定されたページIDは {page_id} です。"
        )
        report.checks.append(Check("facebook_page", "fail", label, detail, FIX_NOT_MANAGED))
        return False

    def _page_subscription(self, report: ConnectionReport, subscribe: bool) -> list[str] | None:
        t = self._t
        path = f"{t.page_id}/subscribed_apps"
        label = "ページのWebhook登録（feed）"
        reply = self._get(path, t.page_token)
        fields = self._page_fields(reply)
        if fields is None:
            report.checks.append(
                Check("facebook_subscription", "fail", label, _refused(reply), _fix_for(reply, "facebook"))
            )
            return None
        done_now = False
        if subscribe and not set(PAGE_FIELDS) <= set(fields):
            # Keep whatever else the Page already sends this app: the POST replaces the field list.
            wanted = ",".join(sorted({*fields, *PAGE_FIELDS}))
            reply = self._graph.request("POST", path, t.page_token, {"subscribed_fields": wanted})
            if not reply.ok:
                report.checks.append(
                    Check(
                        "facebook_subscription", "fail", label, _refused(reply), _fix_for(reply, "facebook")
                    )
                )
                return fields
            report.changed.append("facebook")
            done_now = True
            fields = self._page_fields(self._get(path, t.page_token)) or []
        if set(PAGE_FIELDS) <= set(fields):
            detail = "今回登録しました。" if done_now else "登録済みです。"
            report.checks.append(
                Check("facebook_subscription", "ok", label, f"{detail}（{', '.join(fields)}）")
            )
        else:
            detail = "このアプリはページにfeedを登録していません。Webhookは届きません。"
            report.checks.append(Check("facebook_subscription", "fail", label, detail, FIX_SUBSCRIBE))
        return fields

    def _page_fields(self, reply: GraphReply) -> list[str] | None:
        """The fields this app is subscribed to on the Page ([] when not installed); None when unreadable."""
        if not reply.ok:
            return None
        fields: set[str] = set()
        for app in _data(reply):
            # Without the app id every installed app counts; with it, only ours.
            if not self._t.app_id or str(app.get("id")) == self._t.app_id:
                fields.update(str(f) for f in app.get("subscribed_fields", []) if f)
        return sorted(fields)

    def _instagram_via_page(self, report: ConnectionReport) -> None:
        t = self._t
        if not t.page_id:
            detail = "FacebookログインではInstagramの通知はページ経由ですが、ページIDが未設定です。"
            report.checks.append(
                Check("instagram_page", "fail", "Instagramとページの連携", detail, FIX_IG_NEEDS_PAGE)
            )
            return
        # Deletes and hides use SHAKYO_INSTAGRAM_TOKEN (often the Page token again); the link and the
        # subscription are the Page's, so they are checked even when that token is missing.
        status = self._token("instagram", t.instagram_token, INSTAGRAM_PERMISSIONS["facebook"], report)
        if status is not None and status.valid is False:
            return
        reply = self._get(t.page_id, t.page_token, {"fields": "instagram_business_account"})
        label = "Instagramとページの連携"
        linked = (
            reply.body.get("instagram_business_account")
            if reply.ok and isinstance(reply.body, dict)
            else None
        )
        linked_id = str(linked.get("id", "")) if isinstance(linked, dict) else ""
        if not reply.ok:
            report.checks.append(
                Check("instagram_page", "fail", label, _refused(reply), _fix_for(reply, "instagram"))
            )
            return
        if linked_id != t.instagram_account_id:
            detail = (
                f"ページにつながっているInstagramアカウントは {linked_id} です（設定は {t.instagram_account_id}）。"
                if linked_id
                else "ページにInstagramアカウントがつながっていません。"
            )
            report.checks.append(Check("instagram_page", "fail", label, detail, FIX_IG_LINK))
            return
        report.checks.append(
            Check("instagram_page", "ok", label, f"アカウント {linked_id} はページにつながっています。")
        )
        page_fields = report.subscribed.get("facebook")
        sub_label = "Instagramの通知（ページ経由）"
        if page_fields:
            report.subscribed["instagram"] = list(INSTAGRAM_FIELDS)
            detail = "ページにこのアプリが登録されているため、Instagramのコメントも届きます。"
            report.checks.append(Check("instagram_subscription", "ok", sub_label, detail))
        else:
            report.subscribed["instagram"] = None if page_fields is None else []
            detail = "ページにこのアプリが登録されていないため、Instagramのコメントは届きません。"
            report.checks.append(Check("instagram_subscription", "fail", sub_label, detail, FIX_SUBSCRIBE))

    def _instagram_login(self, report: ConnectionReport, subscribe: bool) -> None:
        t = self._t
        label = "Instagramのトークン"
        if not t.instagram_token:
            report.checks.append(
                Check(
                    "instagram_token",
                    "fail",
                    label,
                    "SHAKYO_INSTAGRAM_TOKEN が未設定です。",
                    FIX_TOKEN.format(env=_TOKEN_ENV["instagram"]),
                )
            )
            return
        status = TokenStatus("instagram")
        report.tokens["instagram"] = status
        me = self._ig_get("me", {"fields": "user_id,username"})
        if not me.ok:
            status.valid = False
            status.error = _token_error(me)
            fix = FIX_TOKEN.format(env=_TOKEN_ENV["instagram"])
            report.checks.append(Check("instagram_token", "fail", label, status.error, fix))
            return
        body = me.body if isinstance(me.body, dict) else {}
        status.valid = True
        status.owner_id = str(body.get("user_id") or body.get("id") or "")
        status.owner_name = str(body.get("username", ""))
        if status.owner_id != t.instagram_account_id:
            detail = f"このトークンは別のアカウント @{status.owner_name}（{status.owner_id}）のものです。"
            report.checks.append(
                Check("instagram_token", "fail", label, detail, FIX_TOKEN.format(env=_TOKEN_ENV["instagram"]))
            )
            return
        report.checks.append(
            Check(
                "instagram_token", "ok", label, f"@{status.owner_name}（{status.owner_id}）のトークンです。"
            )
        )
        path = f"{t.instagram_account_id}/subscribed_apps"
        sub_label = "Instagramの通知登録（comments・live_comments）"
        reply = self._ig_get(path)
        fields = _ig_fields(reply)
        if fields is None:
            report.checks.append(
                Check(
                    "instagram_subscription", "fail", sub_label, _refused(reply), _fix_for(reply, "instagram")
                )
            )
            return
        done_now = False
        if subscribe and not set(INSTAGRAM_FIELDS) <= set(fields):
            wanted = ",".join(sorted({*fields, *INSTAGRAM_FIELDS}))
            reply = self._graph.request(
                "POST",
                path,
                t.instagram_token,
                {"subscribed_fields": wanted},
                base_url=t.instagram_api_url,
                proof=False,
            )
            if not reply.ok:
                report.checks.append(
                    Check(
                        "instagram_subscription",
                        "fail",
                        sub_label,
                        _refused(reply),
                        _fix_for(reply, "instagram"),
                    )
                )
                return
            report.changed.append("instagram")
            done_now = True
            fields = _ig_fields(self._ig_get(path)) or []
        report.subscribed["instagram"] = fields
        if set(INSTAGRAM_FIELDS) <= set(fields):
            detail = "今回登録しました。" if done_now else "登録済みです。"
            report.checks.append(
                Check("instagram_subscription", "ok", sub_label, f"{detail}（{', '.join(fields)}）")
            )
        else:
            report.checks.append(
                Check(
                    "instagram_subscription",
                    "fail",
                    sub_label,
                    "コメントの通知が登録されていません。",
                    FIX_SUBSCRIBE,
                )
            )

    # -- tokens ----------------------------------------------------------------------------------

    def _token(
        self, platform: Platform, token: str, required: tuple[str, ...], report: ConnectionReport
    ) -> TokenStatus | None:
        name = _PLATFORM_JA[platform]
        label = f"{name}のトークン"
        fix_token = FIX_TOKEN.format(env=_TOKEN_ENV[platform])
        if not token:
            report.checks.append(
                Check(f"{platform}_token", "fail", label, f"{_TOKEN_ENV[platform]} が未設定です。", fix_token)
            )
            return None
        status = TokenStatus(platform)
        report.tokens[platform] = status
        if self._t.app_id and not self._debug(token, status, report, label):
            return status
        me = self._get("me", token, {"fields": "id,name"})
        if me.ok and isinstance(me.body, dict):
            status.owner_id = str(me.body.get("id", ""))
            status.owner_name = str(me.body.get("name", ""))
            if status.valid is None:
                status.valid = True
        elif status.valid is not False:
            status.valid = False
            status.error = _token_error(me)
        if status.valid is False:
            report.checks.append(Check(f"{platform}_token", "fail", label, status.error, fix_token))
            return status
        kind = {"PAGE": "ページのトークン", "USER": "ユーザーのトークン"}.get(status.kind, "トークン")
        detail = f"「{status.owner_name}」（{status.owner_id}）の{kind}です。"
        report.checks.append(Check(f"{platform}_token", "ok", label, detail))
        if status.scopes is None and not self._t.app_id:
            perms = self._get("me/permissions", token)
            if perms.ok:  # a user token; a Page token's permissions need /debug_token
                status.scopes = [
                    str(p.get("permission")) for p in _data(perms) if p.get("status") == "granted"
                ]
        self._permissions(platform, status, required, report)
        self._expiry(platform, status, report)
        return status

    def _debug(self, token: str, status: TokenStatus, report: ConnectionReport, label: str) -> bool:
        """Fill `status` from /debug_token; False (with a ✘ line) when the token cannot be used."""
        platform = status.platform
        fix_token = FIX_TOKEN.format(env=_TOKEN_ENV[platform])
        reply = self._get("debug_token", self._app_token, {"input_token": token})
        data = reply.body.get("data") if reply.ok and isinstance(reply.body, dict) else None
        if not isinstance(data, dict):
            status.valid = False
            status.error = f"トークンを確かめられませんでした（{_refused(reply)}）。"
            fix = FIX_APP_SECRET if reply.code in (190, 102) else fix_token
            report.checks.append(Check(f"{platform}_token", "fail", label, status.error, fix))
            return False
        status.kind = str(data.get("type", ""))
        status.expires_at = _int(data.get("expires_at"))
        status.data_access_expires_at = _int(data.get("data_access_expires_at"))
        scopes = data.get("scopes")
        status.scopes = [str(s) for s in scopes] if isinstance(scopes, list) else None
        if str(data.get("app_id", self._t.app_id)) != self._t.app_id:
            status.valid = False
            status.error = f"別のアプリ（{data.get('application', data.get('app_id'))}）のトークンです。"
            report.checks.append(Check(f"{platform}_token", "fail", label, status.error, FIX_APP_MISMATCH))
            return False
        if data.get("is_valid") is False:
            status.valid = False
            error = data.get("error") if isinstance(data.get("error"), dict) else {}
            status.error = _token_message(
                _int(error.get("code")), _int(error.get("subcode")), status.lapses_at
            )
            report.checks.append(Check(f"{platform}_token", "fail", label, status.error, fix_token))
            return False
        status.valid = True
        return True

    def _permissions(
        self, platform: Platform, status: TokenStatus, required: tuple[str, ...], report: ConnectionReport
    ) -> None:
        label = f"{_PLATFORM_JA[platform]}の権限"
        key = f"{platform}_permissions"
        if status.scopes is None:
            detail = "このトークンの権限はアプリIDがないと確かめられません。"
            report.checks.append(Check(key, "skip", label, detail, FIX_APP_ID))
            return
        missing = [p for p in required if p not in status.scopes]
        if missing:
            login = self._t.instagram_login if platform == "instagram" else "facebook"
            use_case = _USE_CASE[
                "instagram" if platform == "instagram" and login == "instagram" else platform
            ]
            fix = FIX_PERMISSION.format(use_case=use_case, perms="・".join(missing))
            report.checks.append(Check(key, "fail", label, f"権限が足りません：{', '.join(missing)}", fix))
        else:
            report.checks.append(Check(key, "ok", label, "、".join(required)))

    def _expiry(self, platform: Platform, status: TokenStatus, report: ConnectionReport) -> None:
        label = f"{_PLATFORM_JA[platform]}のトークンの有効期限"
        key = f"{platform}_expiry"
        lapses = status.lapses_at
        if lapses is None:
            report.checks.append(Check(key, "skip", label, "アプリIDがないと確かめられません。", FIX_APP_ID))
        elif lapses == 0:
            report.checks.append(Check(key, "ok", label, "期限はありません。"))
        elif lapses <= self._clock():
            detail = f"{_jst(lapses)}に切れています。"
            report.checks.append(
                Check(key, "fail", label, detail, FIX_TOKEN.format(env=_TOKEN_ENV[platform]))
            )
        else:
            days = int((lapses - self._clock()) // _DAY)
            report.checks.append(Check(key, "ok", label, f"{_jst(lapses)}まで（あと{days}日）"))

    # -- helpers ---------------------------------------------------------------------------------

    @property
    def _app_token(self) -> str:
        return f"{self._t.app_id}|{self._t.app_secret}"

    def _get(self, path: str, token: str, params: dict[str, str] | None = None) -> GraphReply:
        return self._graph.request("GET", path, token, params)

    def _ig_get(self, path: str, params: dict[str, str] | None = None) -> GraphReply:
        return self._graph.request(
            "GET", path, self._t.instagram_token, params, base_url=self._t.instagram_api_url, proof=False
        )


def _data(reply: GraphReply) -> list[dict[str, Any]]:
    body = reply.body if isinstance(reply.body, dict) else {}
    items = body.get("data")
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _ig_fields(reply: GraphReply) -> list[str] | None:
    """The fields the Instagram account sends this app; None when unreadable."""
    if not reply.ok:
        return None
    return sorted({str(f) for entry in _data(reply) for f in entry.get("subscribed_fields", []) if f})


def _int(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.isdigit():
        return int(raw)
    return None


def _jst(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, _JST).strftime("%Y-%m-%d %H:%M")


def _token_message(code: int | None, subcode: int | None, lapsed_at: int | None = None) -> str:
    if subcode == 463 or (code == 190 and lapsed_at):
        when = f"（{_jst(lapsed_at)}）" if lapsed_at else ""
        return f"トークンの有効期限が切れています{when}。"
    if subcode == 460:
        return "Metaアカウントのパスワードが変更されたため、トークンが使えなくなりました。"
    if subcode == 458:
        return "トークンを発行したアカウントでアプリの連携が解除されています。"
    detail = f"（エラーコード {code}" + (f"/{subcode}" if subcode else "") + "）" if code else ""
    return f"トークンが無効です{detail}。"


def _token_error(reply: GraphReply) -> str:
    if reply.status == 0:
        return "Metaのサーバーに接続できませんでした。ネットワークを確かめてください。"
    return _token_message(reply.code, reply.subcode)


def _refused(reply: GraphReply) -> str:
    if reply.status == 0:
        return "Metaのサーバーに接続できませんでした。"
    code = f"エラーコード {reply.code}" if reply.code is not None else f"HTTP {reply.status}"
    return (
        f"Metaが受け付けませんでした（{code}: {reply.message}）"
        if reply.message
        else f"Metaが受け付けませんでした（{code}）"
    )


def _fix_for(reply: GraphReply, platform: Platform) -> str:
    if reply.code in (10, *range(200, 300)):
        use_case = _USE_CASE[platform]
        return FIX_PERMISSION.format(use_case=use_case, perms="pages_manage_metadata・pages_show_list")
    if reply.code in (102, 190):
        return FIX_TOKEN.format(env=_TOKEN_ENV[platform])
    return FIX_SUBSCRIBE
