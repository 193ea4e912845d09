"""The moderation categories, each tied to a clause of the council's social-media policy."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Severity(IntEnum):
    """Ordered so that max() picks the worst; the queue sorts on the integer value."""

    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def ja(self) -> str:
        return {0: "なし", 1: "低", 2: "中", 3: "高"}[int(self)]

    @classmethod
    def parse(cls, value: str) -> Severity:
        return cls[value.upper()]


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    ja: str
    clauses: tuple[str, ...]
    clause_text: str
    default_severity: Severity
    default_action: str  # delete | hide | review


CATEGORIES: dict[str, Category] = {
    c.name: c
    for c in (
        Category("insult", "侮辱・誹謗中傷", ("2(7)エ",), "他者を侮辱する情報", Severity.MEDIUM, "hide"),
        Category(
            "discrimination",
            "差別・差別の助長",
            ("2(7)オ",),
            "人種、思想、信条等の差別、又は差別を助長させる情報",
            Severity.HIGH,
            "delete",
        ),
        Category(
            "threat",
            "暴力・脅迫・犯行予告",
            ("2(7)カ",),
            "違法行為、又は違法行為を煽る情報",
            Severity.HIGH,
            "delete",
        ),
        Category(
            "illegal",
            "違法行為・その勧誘",
            ("2(7)カ",),
            "違法行為、又は違法行為を煽る情報",
            Severity.HIGH,
            "delete",
        ),
        Category(
            "privacy",
            "個人情報・プライバシー侵害",
            ("2(7)イ", "2(2)"),
            "社協及び他者の権利を侵害する情報（個人情報の取り扱い）",
            Severity.HIGH,
            "hide",
        ),
        Category("obscene", "わいせつ", ("2(7)ケ",), "その他公序良俗に反する情報", Severity.MEDIUM, "delete"),
        Category(
            "harmful_link",
            "有害サイトへのリンク",
            ("2(7)ク",),
            "閲覧者に損害を与えるサイトやわいせつな内容を含むサイトへのリンク情報",
            Severity.HIGH,
            "delete",
        ),
        Category(
            "security",
            "セキュリティを脅かす情報",
            ("2(7)ウ",),
            "社協のセキュリティを脅かすおそれのある情報",
            Severity.HIGH,
            "delete",
        ),
        Category(
            "spam",
            "宣伝・スパム",
            ("2(7)ケ",),
            "その他公序良俗に反する情報（宣伝・スパム）",
            Severity.LOW,
            "hide",
        ),
        Category(
            "misinformation",
            "事実に反する情報",
            ("2(7)キ",),
            "事実に反する情報（要確認）",
            Severity.LOW,
            "review",
        ),
        Category(
            "impersonation",
            "なりすまし",
            ("4(3)",),
            "アカウントのなりすまし（管理者へ削除依頼・ホームページで周知）",
            Severity.HIGH,
            "review",
        ),
    )
}

CATEGORY_NAMES: tuple[str, ...] = tuple(CATEGORIES)
