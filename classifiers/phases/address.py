"""Phase: whether the comment speaks to or about a person with a rough second- or third-person word.

お前, てめえ, 貴様, あんた, こいつ, あいつ, 奴ら aim a comment at somebody. The model alone is trusted only at the
decision policy's high cut-off; when the comment is aimed at a person like this, its own cross-validated
threshold applies, as when a rule found something of the category (compose reads ``Evidence.addressed``).
Polite address (〜さん, あなた) does not count: everyday posts use it of friends and idols.
"""

from __future__ import annotations

import re

from classifiers.phases.context import Context, Evidence

# Over Normalised.kana (katakana folded to hiragana, long marks collapsed: てめー -> てめ). The lookarounds
# keep ordinary words out: あいつぐ (相次ぐ), こいつぶ, おまえさん is still rough enough to count.
_ROUGH_PERSON_RE = re.compile(
    r"お前|おまえ|貴様|きさま|てめえ|てめ(?![っちゃ])|あんた(?!い)|(?<![はみ])こいつ(?!ぶ)|あいつ(?![ぐいぎ])|そいつ"
    r"|奴ら|やつら|てめら"
)


# Every word above contains one of these; a few substring tests spare nearly every comment the regex.
_HINTS = ("お前", "おまえ", "貴様", "きさま", "てめ", "あんた", "いつ", "奴ら", "やつら")


def phase(ctx: Context) -> Evidence | None:
    if ctx.normalised is None:
        raise RuntimeError("address phase needs the normalise phase first")
    kana = ctx.normalised.kana
    if not any(hint in kana for hint in _HINTS):
        return None
    return Evidence(addressed=True) if _ROUGH_PERSON_RE.search(kana) is not None else None
