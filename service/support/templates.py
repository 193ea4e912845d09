"""Reply templates: a title and a text, kept by 管理者 in the UI, picked by staff to prefill a reply box.

A template only fills the box: staff read and edit it and press 送信 themselves (nothing is sent from a
template by itself). Texts may hold the placeholders {窓口名}, {電話番号} and {受付時間}, filled from the
SHAKYO_SUPPORT_DESK_* settings when the box is filled, so a changed number reaches every template at once;
a setting not given stays as 【電話番号】 (or 【受付時間】), which service.support.replies refuses to send.

Stored in `{shakyo}:reply_templates` (id → JSON). The defaults are written once (the marker
`{shakyo}:reply_templates:seeded`), so a default an admin deleted stays deleted.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass

import redis

from service import keys
from service.audit import AuditEntry, AuditLog
from service.settings import Settings

MAX_TITLE = 60
MAX_TEXT = 2000
AUDIT_JA: dict[str, str] = {
    "reply_template_saved": "返信テンプレートを保存",
    "reply_template_deleted": "返信テンプレートを削除",
}

# Policy 2(6): 冷静に対応し、無用な議論を避ける — thank, say what happens next, offer a direct line, no debate.
_DEFAULTS: tuple[tuple[str, str, str], ...] = (
    (
        "calm",
        "ご意見へのお礼（冷静な対応）",
        "ご意見をお寄せいただき、ありがとうございます。\n"
        "いただいた内容は担当部署で確認し、今後の運営の参考にさせていただきます。\n"
        "個別のご事情については、お手数ですが{窓口名}（電話 {電話番号}、{受付時間}）までお問い合わせください。",
    ),
    (
        "support",
        "相談窓口のご案内",
        "コメントを拝見しました。書き込んでくださり、ありがとうございます。\n"
        "おひとりで抱え込まず、よろしければ{窓口名}にご相談ください。\n"
        "電話：{電話番号}（{受付時間}）\n"
        "ご相談の内容や秘密は守ります。お名前を言わずにご相談いただくこともできます。\n"
        "命に関わる危険が迫っているときは、ためらわずに警察や救急へ連絡してください。",
    ),
)


class TemplateError(Exception):
    def __init__(self, message_ja: str) -> None:
        super().__init__(message_ja)
        self.message_ja = message_ja


@dataclass(frozen=True, slots=True)
class ReplyTemplate:
    template_id: str
    title: str
    text: str
    created_at: float
    updated_at: float
    updated_by: str

    def filled(self, settings: Settings) -> str:
        """The text with the council's 相談窓口 from the settings, as it goes into the reply box."""
        hours = settings.support_desk_hours or (
            f"平日 {settings.hours_start:%-H:%M}〜{settings.hours_end:%-H:%M}"
        )
        values = {
            "{窓口名}": settings.support_desk_name.strip() or "【窓口名】",
            "{電話番号}": settings.support_desk_phone or "【電話番号】",
            "{受付時間}": hours,
        }
        text = self.text
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text


class Templates:
    """Give it a client made with decode_responses=True."""

    def __init__(self, r: redis.Redis) -> None:
        self._r = r
        self._audit = AuditLog(r)

    def seed(self, *, now: float | None = None) -> None:
        """Write the default templates the first time only."""
        at = time.time() if now is None else now
        if not self._r.set(keys.REPLY_TEMPLATES_SEEDED, repr(at), nx=True):
            return
        mapping = {
            # Spread a millisecond apart, in order, and before `at`: a template saved right after the seeding
            # must still sort after every default.
            template_id: _dump(ReplyTemplate(template_id, title, text, at - (len(_DEFAULTS) - n) / 1000, at, "system"))
            for n, (template_id, title, text) in enumerate(_DEFAULTS)
        }
        self._r.hset(keys.REPLY_TEMPLATES, mapping=mapping)

    def all(self) -> list[ReplyTemplate]:
        self.seed()
        found = [_load(raw) for raw in self._r.hvals(keys.REPLY_TEMPLATES)]
        return sorted(found, key=lambda t: t.created_at)

    def get(self, template_id: str) -> ReplyTemplate | None:
        self.seed()
        raw = self._r.hget(keys.REPLY_TEMPLATES, template_id) if template_id else None
        return _load(raw) if raw else None

    def save(
        self,
        title: str,
        text: str,
        *,
        by: str,
        role: str,
        template_id: str = "",
        now: float | None = None,
    ) -> ReplyTemplate:
        """Add a template (no id) or change one. Raises TemplateError (Japanese)."""
        title, text = title.strip(), text.replace("\r\n", "\n").replace("\r", "\n").strip()
        if not title or not text:
            raise TemplateError("題名と文面を入力してください。")
        if len(title) > MAX_TITLE:
            raise TemplateError(f"題名は{MAX_TITLE}文字までです。")
        if len(text) > MAX_TEXT:
            raise TemplateError(f"文面は{MAX_TEXT}文字までです。")
        self.seed()  # first, so the defaults come before a template added on a fresh install
        at = time.time() if now is None else now
        if template_id:
            old = self.get(template_id)
            if old is None:
                raise TemplateError("指定されたテンプレートが見つかりません。")
            template = ReplyTemplate(template_id, title, text, old.created_at, at, by)
        else:
            template = ReplyTemplate(uuid.uuid4().hex[:12], title, text, at, at, by)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(keys.REPLY_TEMPLATES, template.template_id, _dump(template))
        self._audited(pipe, "reply_template_saved", by, role, at, template.title)
        pipe.execute()
        return template

    def delete(self, template_id: str, *, by: str, role: str, now: float | None = None) -> None:
        old = self.get(template_id)
        if old is None:
            raise TemplateError("指定されたテンプレートが見つかりません。")
        pipe = self._r.pipeline(transaction=True)
        pipe.hdel(keys.REPLY_TEMPLATES, template_id)
        self._audited(
            pipe, "reply_template_deleted", by, role, time.time() if now is None else now, old.title
        )
        pipe.execute()

    def _audited(
        self, pipe: redis.client.Pipeline, action: str, by: str, role: str, at: float, title: str
    ) -> None:
        self._audit.append(
            AuditEntry(at=at, actor=by, role=role, action=action, item_id="", note=title), pipe=pipe
        )


def _dump(template: ReplyTemplate) -> str:
    return json.dumps(asdict(template), ensure_ascii=False, separators=(",", ":"))


def _load(raw: str) -> ReplyTemplate:
    data = json.loads(raw)
    return ReplyTemplate(**{k: v for k, v in data.items() if k in ReplyTemplate.__dataclass_fields__})
