"""Phase 4: personal information in a comment → ``privacy`` (policy 2(7)イ, 2(2)).

Phone numbers, e-mail addresses, street addresses, My Number and "<name>さんの住所/電話番号" are found in
the ORIGINAL text after a 1:1 width fold (``fold_width``), not in ``Normalised.text``: normalisation drops
the separators and collapses the repeats that make a phone number or an address what it is, while NFKC of
a single digit, Latin letter or ASCII sign is one character, so offsets in the fold are offsets in the
comment.

A phone number the council or another public body publishes is not personal information: the numbers
given to ``config.configure(public_phones=...)`` (SHAKYO_PUBLIC_PHONES), business-only prefixes (0120, 0800,
0570, 0990) and a landline written next to a public body's name in the same sentence (社協（0837-00-0000）へ)
leave no evidence. Short public numbers (110, 119, 189, #7119) never look like a phone number here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from classifiers.categories import Severity
from classifiers.config import CONFIG
from classifiers.phases._detect import PhraseIndex, fold_width, load_phrases, match_at
from classifiers.phases.context import Context, Evidence
from classifiers.phases.normalise import Normalised
from classifiers.phases.tokenise import Token, tokenise
from classifiers.verdict import Match

CATEGORY = "privacy"

# ---- phone numbers ---------------------------------------------------------------------------------

# A run of digit groups that starts like a Japanese number (0…, (0…), +81…); validated in _phone_kind.
_PHONE_RE = re.compile(
    r"(?<![0-9A-Za-z.+\-/])"
    r"(?:\+81[ \-]?(?:\(0\)[ ]?)?[1-9]\d{0,3}|\(0\d{1,4}\)|0\d{1,4})"
    r"(?:[ ]?[\-.・()/ ][ ]?\d{1,4}|\d{1,4}){1,3}"
    r"(?![0-9]|[\-.][0-9])"
)
_GROUP_RE = re.compile(r"\d+")
_KANJI_DIGITS = str.maketrans("〇一二三四五六七八九", "0123456789")
# Toll-free (0120, 0800), navi dial (0570) and information (0990) numbers are let only to businesses and
# public bodies, so they are never a private person's.
_BUSINESS_PREFIXES = ("0120", "0800", "0570", "0990")
_BUSINESS = "pii:phone_business"

# A phone candidate: where it is, the rule and its strength, and its digits (config.phone_digits form).
PhoneHit = tuple[int, int, str, float, Severity, str]


def _phone_kind(candidate: str) -> tuple[str, float, Severity, str] | None:
    groups = _GROUP_RE.findall(candidate)
    if candidate.startswith("+81"):
        groups[0] = groups[0][2:]  # drop the country code
        if groups[0] == "":
            groups.pop(0)
        if groups and groups[0] == "0":  # +81 (0) 90 …
            groups.pop(0)
        if not groups:
            return None
        groups[0] = "0" + groups[0]
    digits = "".join(groups)
    lens = tuple(len(g) for g in groups)
    if digits.startswith(_BUSINESS_PREFIXES) and len(digits) in (10, 11):
        return _BUSINESS, 0.0, Severity.NONE, digits
    if len(digits) == 11 and digits[:3] in ("070", "080", "090", "050"):
        if lens in ((11,), (3, 4, 4), (3, 8)):
            return "pii:phone_mobile", 0.9, Severity.HIGH, digits
        return None
    if len(digits) == 10 and digits[1] != "0":
        if len(lens) == 3 and lens[2] == 4 and 2 <= lens[0] <= 5:
            return "pii:phone", 0.85, Severity.HIGH, digits
        if lens == (10,):
            # An unbroken 10-digit number starting with 0 is most likely a landline, but less surely.
            return "pii:phone", 0.6, Severity.MEDIUM, digits
    return None


def _phones(folded: str) -> list[PhoneHit]:
    found: dict[tuple[int, int], PhoneHit] = {}
    texts = [folded]
    if sum(folded.count(c) for c in "〇一二三四五六七八九") >= 10:
        texts.append(folded.translate(_KANJI_DIGITS))  # 〇九〇… spelled in kanji, same length
    for text in texts:
        for m in _PHONE_RE.finditer(text):
            kind = _phone_kind(m.group())
            if kind is not None:
                found.setdefault(m.span(), (m.start(), m.end(), *kind))
    return list(found.values())


# Whose number a landline is: a public body named in the same sentence, just before it (社協（0837-00-0000）
# へ) or just after it (0837-00-0000（市役所）), with no person in between (社協の田中さん宅 0837-… is not).
_PUBLIC_BODY_RE = re.compile(
    r"市役所|区役所|役所|役場|支所|出張所|県庁|庁舎|社協|社会福祉協議会|消防|警察|交番|駐在所|保健所|"
    r"相談窓口|窓口|センター|代表|事務局|公民館|病院|[^\s、。]課"
)
_PERSONAL_RE = re.compile(r"さん|様|さま|くん|君|ちゃん|氏|自宅|実家|宅|の家|携帯|個人")
_SENTENCE_END_RE = re.compile(r"[。！？!?\n]")
_PUBLIC_BEFORE = 40  # characters looked back for the body's name: "…は社協の地域福祉係（0837-…）まで"
_PUBLIC_AFTER = 12  # and forward: a name in brackets after the number


def _published(original: str, start: int, end: int) -> bool:
    """Whether the landline at ``original[start:end]`` is given as a public body's number.

    Read in the original, not the width fold, which turns the ー of センター into a hyphen.
    """
    lo = max(0, start - _PUBLIC_BEFORE)
    before = _SENTENCE_END_RE.split(original[lo:start])[-1]
    bodies = list(_PUBLIC_BODY_RE.finditer(before))
    if bodies and _PERSONAL_RE.search(before, bodies[-1].end()) is None:
        return True
    after = _SENTENCE_END_RE.split(original[end : end + _PUBLIC_AFTER])[0]
    body = _PUBLIC_BODY_RE.search(after)
    return body is not None and _PERSONAL_RE.search(after, 0, body.start()) is None


def _personal_phones(original: str, folded: str) -> tuple[list[PhoneHit], bool]:
    """The phone numbers in ``folded`` (``original``'s width fold) that may be a private person's (see the module docstring), and
    whether any public number was set aside.

    A mobile number is a person's even next to 社協 (a member of staff's own phone) unless the council
    lists it as public.
    """
    listed = CONFIG.public_phones
    personal: list[PhoneHit] = []
    public = False
    for hit in _phones(folded):
        start, end, rule_id, _score, _severity, digits = hit
        if (
            rule_id == _BUSINESS
            or digits in listed
            or (rule_id == "pii:phone" and _published(original, start, end))
        ):
            public = True
        else:
            personal.append(hit)
    return personal, public


# ---- e-mail addresses ------------------------------------------------------------------------------

_AT = r"(?:@|[ ]?[(\[<{][ ]?at[ ]?[)\]>}][ ]?|[ ]?(?:アット|あっと)(?:マーク|まーく)?[ ]?|[★☆])"
_DOT = r"(?:\.|[ ]?[(\[<{][ ]?(?:dot|\.)[ ]?[)\]>}][ ]?|[ ]?(?:ドット|どっと)[ ]?)"
_EMAIL_RE = re.compile(
    rf"(?<![A-Za-z0-9._%+\-/:])[A-Za-z0-9][A-Za-z0-9._%+\-]{{0,63}}{_AT}"
    rf"[A-Za-z0-9][A-Za-z0-9\-]*(?:{_DOT}[A-Za-z0-9\-]+)*{_DOT}[A-Za-z]{{2,}}(?![A-Za-z0-9])",
    re.IGNORECASE,
)

# ---- street addresses ------------------------------------------------------------------------------

_PREFECTURES = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
]
_KANJI = r"[\u4e00-\u9fff々〆ヶケヵ]"
_NUM = r"[0-9一二三四五六七八九十〇]+"
_ADDRESS_RE = re.compile(
    rf"(?P<pref>{'|'.join(_PREFECTURES)})?"
    rf"(?:{_KANJI}{{1,5}}?[市区町村郡]){{1,3}}"
    rf"[\u4e00-\u9fff々ヶケヵァ-ヺー]{{0,6}}[ ]?"
    rf"(?P<num>(?:{_NUM}丁目[ ]?)?(?:{_NUM}(?:番地の?|番|-|の){_NUM}(?:号|番地|番|-{_NUM})?|{_NUM}番地))"
    r"(?![0-9人名歳才時分円個回月日年%])"
)
# Where an address can end: a house number (1234-5, 123番地, 1丁目2番). The place name before it is at most
# a prefecture (4) + three 市区町村 names (6 each) + a district (6) + a space.
_ADDRESS_ANCHOR_RE = re.compile(rf"{_NUM}(?:丁目|番地|番|-|の){_NUM}|{_NUM}番地")
_ADDRESS_MAX_PLACE = 30
_DATE_RE = re.compile(r"(?:19|20)\d\d-\d{1,2}-\d{1,2}$")
# Words a greedy match may pick up in front of the place name (住所山口県… → 山口県…).
_ADDRESS_LEAD = ("現住所", "住所", "所在地", "自宅", "実家", "家")
_CHOME_OR_BANCHI = ("丁目", "番地")

# ---- My Number (個人番号) --------------------------------------------------------------------------

_MYNUMBER_RE = re.compile(r"(?<![0-9\-])(\d{4})([ \-]?)(\d{4})\2(\d{4})(?![0-9]|-[0-9])")
_MYNUMBER_CUE_RE = re.compile(r"マイナンバー|マイナ|個人番号|my ?number", re.IGNORECASE)


def mynumber_valid(digits: str) -> bool:
    """The check digit of the 12-digit individual number (総務省令 check-digit formula)."""
    if len(digits) != 12 or not digits.isdigit():
        return False
    body = digits[:11]
    total = 0
    for n in range(1, 12):
        p = int(body[11 - n])
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    rem = total % 11
    check = 0 if rem <= 1 else 11 - rem
    return check == int(digits[11])


# ---- a person's name next to 住所 / 電話番号 / 家 ---------------------------------------------------

_HONORIFICS = ("さん", "くん", "君", "ちゃん", "氏", "様", "さま")
# Stems that take さん but are roles or relatives, not someone's name (社協さんの住所 is a fair question).
_NOT_NAMES = frozenset(
    [
        "社協",
        "職員",
        "店員",
        "業者",
        "大家",
        "奥",
        "皆",
        "みな",
        "みんな",
        "お母",
        "お父",
        "母",
        "父",
        "お兄",
        "お姉",
        "兄",
        "姉",
        "娘",
        "息子",
        "孫",
        "お孫",
        "お子",
        "子供",
        "子ども",
        "おばあ",
        "おじい",
        "ばあ",
        "じい",
        "おば",
        "おじ",
        "隣",
        "お隣",
        "近所",
        "ご近所",
        "市役所",
        "役所",
        "市長",
        "社長",
        "会長",
        "担当",
        "担当者",
        "ヘルパー",
        "民生委員",
        "ケアマネ",
        "看護師",
        "お医者",
        "医者",
        "先生",
        "郵便屋",
        "農家",
        "生徒",
        "利用者",
        "お客",
        "客",
        "運転手",
        "配達員",
        "駐在",
        "お巡り",
        "管理人",
        "家主",
        "同僚",
        "上司",
        "友達",
        "友人",
        "彼氏",
        "彼女",
        "旦那",
        "主人",
        "ご主人",
        "嫁",
        "お嫁",
        "親戚",
    ]
)
# What follows the cue when it is being disclosed rather than asked about (〇〇さんの住所は…).
_DISCLOSURE_RE = re.compile(r"[はも:=→]|って|ここ")
# Name characters: kanji, katakana, and the placeholders people type instead of a name (〇〇さん).
_NAME_CHARS = re.compile(r"[\u4e00-\u9fff々ァ-ヺー〇○●◯×＊*]+$")

_CUES = PhraseIndex(load_phrases("pii"))
_PRECHECK_CUE = re.compile(r"住所|電話|番号|連絡先|メアド|アドレス|勤務先|勤め先|職場|自宅|実家|本名|家|学校")


def _dictionary_name_start(tokens: Sequence[Token], ends: dict[int, int], end: int) -> int | None:
    """Start of the person-name tokens (名詞-固有名詞-人名: 田中, 太郎) that end at ``end``, if any."""
    i = ends.get(end)
    start: int | None = None
    while i is not None and i >= 0 and tokens[i].person:
        start = tokens[i].start
        i -= 1
    return start


def _name_before(text: str, tokens: Sequence[Token], ends: dict[int, int], cue_start: int) -> int | None:
    """Start (in normalised text) of the name a cue belongs to: ``<name>[さん]の<cue>``, else None."""
    if cue_start < 2 or text[cue_start - 1] != "の":
        return None
    end = cue_start - 1
    honorific = next((h for h in _HONORIFICS if text.endswith(h, 0, end)), None)
    if honorific is None:
        return _dictionary_name_start(tokens, ends, end)
    end -= len(honorific)
    start = _dictionary_name_start(tokens, ends, end)
    if start is not None:
        return start
    # Not in the dictionary (a rare surname, 〇〇, a nickname): the run of name characters before the
    # honorific, unless it is a role or a relative (職員さん, お母さん).
    m = _NAME_CHARS.search(text, max(0, end - 6), end)
    if m is None:
        return None
    stem = m.group()
    if stem in _NOT_NAMES or stem[-2:] in _NOT_NAMES or stem[-1:] in _NOT_NAMES:
        return None
    return m.start()


def _person_spans(norm: Normalised, tokens: Sequence[Token]) -> list[tuple[int, int, float]]:
    """Spans (normalised text) of "<name>の<cue>", scored by how much the cue says about the person.

    ``tokens`` are the tokenise phase's; a caller that skipped that phase (report masking) gets the text
    tokenised here, and only when a cue is there at all.
    """
    if _PRECHECK_CUE.search(norm.text) is None:
        return []
    hits = _CUES.find(norm.kana)
    if not hits:
        return []
    if not tokens:
        tokens = tokenise(norm.text)
    ends = {t.end: i for i, t in enumerate(tokens)}
    out: list[tuple[int, int, float]] = []
    for hit in hits:
        start = _name_before(norm.text, tokens, ends, hit.start)
        if start is None:
            continue
        disclosed = _DISCLOSURE_RE.match(norm.text, hit.end) is not None
        if hit.phrase.group == "strong":
            out.append((start, hit.end, 0.8 if disclosed else 0.6))
        elif disclosed:
            out.append((start, hit.end, 0.6))
    return out


# ---- the phase -------------------------------------------------------------------------------------

_PRECHECK_DIGITS = re.compile(r"[0-9０-９〇一二三四五六七八九]")
_PRECHECK_EMAIL = re.compile(r"[@＠★☆]|\bat\b|ａｔ|アット|あっと", re.IGNORECASE)


def _addresses(folded: str) -> list[tuple[int, int, float, Severity]]:
    """Addresses, tried only just before a house number so a long run of kanji costs nothing."""
    out: list[tuple[int, int, float, Severity]] = []
    reach = 0
    for anchor in _ADDRESS_ANCHOR_RE.finditer(folded):
        if anchor.start() < reach:
            continue
        m = None
        for pos in range(max(reach, anchor.start() - _ADDRESS_MAX_PLACE), anchor.start()):
            m = _ADDRESS_RE.match(folded, pos)
            if m is not None:
                break
        if m is None or _DATE_RE.match(m.group("num")):
            continue
        reach = m.end()
        start = m.start()
        for lead in _ADDRESS_LEAD:
            if folded.startswith(lead, start) and m.end() - start > len(lead) + 3:
                start += len(lead)
                break
        num = m.group("num")
        strong = m.group("pref") is not None or any(w in num for w in _CHOME_OR_BANCHI)
        out.append((start, m.end(), 0.85 if strong else 0.7, Severity.HIGH if strong else Severity.MEDIUM))
    return out


def detect(ctx: Context) -> list[Match]:
    return _detect(ctx)[0]


def _detect(ctx: Context) -> tuple[list[Match], bool]:
    """The matches, and whether a public phone number was set aside (see phase())."""
    original = ctx.original
    matches: list[Match] = []
    public_phone = False
    has_digits = _PRECHECK_DIGITS.search(original) is not None
    folded = fold_width(original) if has_digits or _PRECHECK_EMAIL.search(original) else ""

    def add(start: int, end: int, rule_id: str, score: float, severity: Severity) -> None:
        matches.append(Match(rule_id, CATEGORY, start, end, original[start:end], severity, score))

    if folded and _PRECHECK_EMAIL.search(folded):
        for m in _EMAIL_RE.finditer(folded):
            add(m.start(), m.end(), "pii:email", 0.85, Severity.HIGH)
    if has_digits:
        phones, public_phone = _personal_phones(original, folded)
        for start, end, rule_id, score, severity, _digits in phones:
            add(start, end, rule_id, score, severity)
        if any(c in folded for c in "市区町村郡"):
            for start, end, score, severity in _addresses(folded):
                add(start, end, "pii:address", score, severity)
        for m in _MYNUMBER_RE.finditer(folded):
            digits = m.group(1) + m.group(3) + m.group(4)
            if not mynumber_valid(digits):
                continue
            cue = _MYNUMBER_CUE_RE.search(folded, max(0, m.start() - 30), m.start()) is not None
            # Grouped 4-4-4 is how the card prints it; an unbroken valid number without a cue stays review.
            score = 0.9 if cue else (0.6 if m.group(2) else 0.4)
            add(m.start(), m.end(), "pii:mynumber", score, Severity.HIGH if score >= 0.5 else Severity.LOW)
    norm = ctx.normalised
    if norm is not None:
        for start, end, score in _person_spans(norm, ctx.tokens):
            matches.append(match_at(ctx, norm, start, end, "pii:person", CATEGORY, Severity.MEDIUM, score))
    return matches, public_phone


def phase(ctx: Context) -> Evidence | None:
    matches, public_phone = _detect(ctx)
    if matches:
        return Evidence(matches=matches)
    # The model reads a published number's digits as a phone number too; with nothing personal found
    # beside it, that is no reason to flag privacy.
    return Evidence(cleared={CATEGORY}) if public_phone else None
