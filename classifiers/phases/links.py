"""Phase 5: links in a comment → ``harmful_link`` (2(7)ク) and ``security`` (2(7)ウ).

URLs are found in the original text after a 1:1 width fold, so a URL glued to Japanese text
(詳しくはhttps://example.com/xx を見て), written in full-width letters, defanged (hxxp, example[.]com) or
without a scheme still has its exact span. Without a scheme, a host starting with ``www.`` is a link
whatever its TLD (www.brand-cheap.fashion); any other bare domain must end in a TLD from the ``tld`` list
(example.xyz, brand-cheap.jp/sale), so "3.5kg", "ver.2.0", "ファイル名.txt" or "Node.js" are not links. Each host is then judged against ``data/domains.tsv``:
allowed sites never produce evidence; look-alikes of Meta's brands and punycode hosts are phishing; adult,
dating, gambling and malware words in the host are harmful links; shorteners and abused TLDs are weak
cues that only flag together with other cues.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from classifiers.categories import Severity
from classifiers.phases._detect import DATA_DIR, PhraseIndex, fold_width, load_phrases
from classifiers.phases.context import Context, Evidence
from classifiers.verdict import Match

DOMAINS_PATH: Path = DATA_DIR / "domains.tsv"


@dataclass(frozen=True, slots=True)
class DomainRule:
    kind: str
    patterns: tuple[str, ...]
    category: str
    score: float
    note: str


def _load(path: Path) -> tuple[str, list[DomainRule]]:
    version = ""
    rules: list[DomainRule] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# version"):
            version = line.split("\t", 1)[1].strip()
        if not line.strip() or line.startswith("#"):
            continue
        kind, patterns, category, score, note = line.split("\t")
        rules.append(DomainRule(kind, tuple(patterns.split()), category, float(score), note))
    return version, rules


DOMAINS_VERSION, _RULES = _load(DOMAINS_PATH)


def _patterns(kind: str) -> tuple[str, ...]:
    return tuple(p for r in _RULES if r.kind == kind for p in r.patterns)


def _keyed(kind: str) -> dict[str, DomainRule]:
    return {p: r for r in _RULES if r.kind == kind for p in r.patterns}


_ALLOW = frozenset(_patterns("allow"))
_SHORTENERS = frozenset(_patterns("shortener"))
_SHORTENER_RULE = next(r for r in _RULES if r.kind == "shortener")
_DENY_WORDS = _keyed("deny_word")
_DENY_TOKENS = _keyed("deny_token")
_SUS_TLDS = _keyed("sus_tld")
_PATH_WORDS = _keyed("path_word")
_FILE_EXTS = _keyed("file_ext")
_BRANDS = _patterns("brand")
_TLDS = sorted(_patterns("tld"), key=len, reverse=True)

# ---- extraction ------------------------------------------------------------------------------------

_URL_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]"
_DOT = r"(?:\.|\[\.\]|\(\.\)|\[dot\]|\(dot\)|\{\.\})"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_SCHEME_URL_RE = re.compile(rf"(?:h[tx]{{2}}ps?|(?<![A-Za-z])t?tps?)://{_URL_CHARS}+", re.IGNORECASE)
_BARE_RE = re.compile(
    rf"(?<![A-Za-z0-9@.\-/_])(?:{_LABEL}{_DOT})+(?:{'|'.join(_TLDS)})(?![A-Za-z0-9]|-[A-Za-z0-9])"
    rf"(?:[/?#]{_URL_CHARS}*)?",
    re.IGNORECASE,
)
# "www." says "web address" whatever follows, so any alphabetic or punycode TLD will do. Not after a letter:
# the "wwww" of net laughter (草wwww.) is not a host.
_WWW_RE = re.compile(
    rf"(?<![A-Za-z0-9@.\-/_])www\d?{_DOT}(?:{_LABEL}{_DOT})+(?:xn--[A-Za-z0-9\-]{{1,59}}|[A-Za-z]{{2,24}})"
    rf"(?![A-Za-z0-9]|-[A-Za-z0-9])(?:[/?#]{_URL_CHARS}*)?",
    re.IGNORECASE,
)
_DEFANG_RE = re.compile(r"\[\.\]|\(\.\)|\[dot\]|\(dot\)|\{\.\}", re.IGNORECASE)
_PRECHECK_RE = re.compile(r"[.．/／]|dot", re.IGNORECASE)
_TRAILING = ".,;:!?'-"  # "-" too: a ー after a URL is folded to "-"
_CLOSERS = {")": "(", "]": "["}


@dataclass(frozen=True, slots=True)
class Url:
    start: int  # offsets in the original text
    end: int
    host: str  # lower-case, defanged, without "www." and port
    path: str  # everything after the host, lower-case
    defanged: bool  # written as hxxp:// or with [.] — someone dodging link filters
    userinfo: str  # "facebook.com" in https://facebook.com@evil.example/


def _trim(text: str, start: int, end: int) -> int:
    """Drop trailing punctuation, and a closing bracket that the URL did not open."""
    while end > start:
        c = text[end - 1]
        opener = _CLOSERS.get(c)
        unbalanced = opener is not None and text.count(opener, start, end) < text.count(c, start, end)
        if c not in _TRAILING and not unbalanced:
            break
        end -= 1
    return end


def _parse(raw: str, start: int, end: int, defanged: bool) -> Url | None:
    clean = _DEFANG_RE.sub(".", raw)
    defanged = defanged or clean != raw
    rest = clean.split("://", 1)[1] if "://" in clean else clean
    cut = len(rest)
    for sep in "/?#":
        i = rest.find(sep)
        if i != -1:
            cut = min(cut, i)
    authority, path = rest[:cut], rest[cut:]
    userinfo = ""
    if "@" in authority:
        userinfo, authority = authority.rsplit("@", 1)
    host = authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority
    host = host.lower().strip(".")
    host = host.removeprefix("www.")
    if "." not in host:
        return None
    return Url(start, end, host, path.lower(), defanged, userinfo.lower())


def find_urls(original: str) -> list[Url]:
    """Every URL or bare domain in ``original``, with exact spans (see the module docstring)."""
    if _PRECHECK_RE.search(original) is None:
        return []
    folded = fold_width(original)
    urls: list[Url] = []
    taken: list[tuple[int, int]] = []
    for m in _SCHEME_URL_RE.finditer(folded):
        end = _trim(folded, m.start(), m.end())
        scheme = m.group()[: m.group().index("://")].lower()
        url = _parse(folded[m.start() : end], m.start(), end, defanged=scheme not in ("http", "https"))
        taken.append((m.start(), end))
        if url is not None:
            urls.append(url)
    # A plain substring test (memchr) spares most dotted comments (3.5kg) the www. scan.
    www = "w" in folded or "W" in folded
    for regex in (_WWW_RE, _BARE_RE) if www else (_BARE_RE,):
        for m in regex.finditer(folded):
            if any(s <= m.start() < e for s, e in taken):
                continue
            end = _trim(folded, m.start(), m.end())
            taken.append((m.start(), end))
            url = _parse(folded[m.start() : end], m.start(), end, defanged=False)
            if url is not None:
                urls.append(url)
    urls.sort(key=lambda u: u.start)
    return urls


# ---- judging a host --------------------------------------------------------------------------------

# Look-alike characters in host names, folded on both sides before comparing with a brand.
_SKELETON_PAIRS = (
    ("rn", "m"),
    ("vv", "w"),
    ("0", "o"),
    ("1", "l"),
    ("i", "l"),
    ("3", "e"),
    ("4", "a"),
    ("5", "s"),
    ("7", "t"),
)


def skeleton(word: str) -> str:
    word = word.lower()
    for a, b in _SKELETON_PAIRS:
        word = word.replace(a, b)
    return word


_BRAND_SKELETONS = {skeleton(b): b for b in _BRANDS}
# Brands that are also ordinary words (meta.wikimedia.org): the exact word needs a phishing word beside it.
_COMMON_WORD_BRANDS = frozenset({"meta", "threads"})
_PHISH_TOKENS = frozenset(p for p, r in _DENY_TOKENS.items() if r.category == "security") | {
    "help",
    "center",
    "team",
    "policy",
    "review",
    "copyright",
    "business",
    "service",
    "check",
}
_PHISH_SKELETONS = frozenset(skeleton(p) for p in _PHISH_TOKENS)
_IP_RE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_SPLIT_RE = re.compile(r"[.\-]")


def _within_one_edit(a: str, b: str) -> bool:
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def allowed(host: str) -> bool:
    labels = host.split(".")
    return any(".".join(labels[i:]) in _ALLOW for i in range(len(labels)))


def _lookalike(host: str, tokens: list[str]) -> str | None:
    """The Meta brand ``host`` imitates, if any (the host is known not to be an allowed one)."""
    phishy = any(t in _PHISH_TOKENS for t in tokens)
    for token in tokens[:-1]:  # not the TLD
        sk = skeleton(token)
        brand = _BRAND_SKELETONS.get(sk)
        if brand is not None:
            if token != brand or brand not in _COMMON_WORD_BRANDS or phishy:
                return brand
            continue
        for bsk, b in _BRAND_SKELETONS.items():
            if len(bsk) >= 8 and _within_one_edit(sk, bsk):
                return b
            # metasupport, facebookhelp: a brand glued to a phishing word in one label.
            if bsk in sk and any(p in sk.replace(bsk, "", 1) for p in _PHISH_SKELETONS):
                return b
    return None


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    category: str
    score: float
    severity: Severity


def judge(url: Url, lured: bool) -> list[Finding]:
    """What ``url`` is evidence of; empty for allowed or unremarkable hosts."""
    host = url.host
    if allowed(host) and not url.userinfo:
        return []
    tokens = [t for t in _SPLIT_RE.split(host) if t]
    findings: list[Finding] = []
    brand = _lookalike(host, tokens)
    if brand is not None:
        findings.append(Finding(f"link:lookalike:{host}", "security", 0.9, Severity.HIGH))
    if "." in url.userinfo:
        findings.append(Finding(f"link:userinfo:{host}", "security", 0.8, Severity.HIGH))
    if any(label.startswith("xn--") for label in host.split(".")):
        findings.append(Finding(f"link:punycode:{host}", "security", 0.75, Severity.HIGH))
    for word, rule in _DENY_WORDS.items():
        if word in host:
            findings.append(Finding(f"link:deny:{host}", rule.category, rule.score, Severity.HIGH))
            break
    harmful_tokens = [
        _DENY_TOKENS[t] for t in tokens if t in _DENY_TOKENS and _DENY_TOKENS[t].category != "security"
    ]
    if harmful_tokens:
        best = max(harmful_tokens, key=lambda r: r.score)
        findings.append(Finding(f"link:deny:{host}", best.category, best.score, Severity.HIGH))
    ext = url.path.rsplit(".", 1)[-1] if "." in url.path.rsplit("/", 1)[-1] else ""
    if ext in _FILE_EXTS:
        rule = _FILE_EXTS[ext]
        findings.append(Finding(f"link:download:{host}", rule.category, rule.score, Severity.HIGH))

    # Weak cues add up; none is enough alone.
    phish_words = {t for t in tokens if t in _DENY_TOKENS and _DENY_TOKENS[t].category == "security"}
    cue = sum(_DENY_TOKENS[t].score for t in sorted(phish_words)[:2])
    tld = tokens[-1]
    if tld in _SUS_TLDS:
        cue += _SUS_TLDS[tld].score
    if any(w in url.path for w in _PATH_WORDS):
        cue += max(r.score for w, r in _PATH_WORDS.items() if w in url.path)
    is_ip = _IP_RE.fullmatch(host) is not None
    if is_ip:
        cue += 0.4
    if url.defanged:
        cue += 0.15
    if cue and lured:
        cue += 0.2
    if cue >= 0.3:
        kind = "ip" if is_ip else "suspicious"
        severity = Severity.HIGH if cue >= 0.7 else Severity.MEDIUM if cue >= 0.5 else Severity.LOW
        findings.append(Finding(f"link:{kind}:{host}", "security", min(cue, 0.9), severity))

    if host in _SHORTENERS:
        score = _SHORTENER_RULE.score + (0.25 if lured else 0.0) + (0.15 if url.defanged else 0.0)
        severity = Severity.MEDIUM if score >= 0.5 else Severity.LOW
        findings.append(Finding(f"link:shortener:{host}", _SHORTENER_RULE.category, score, severity))
    return findings


_LURES = PhraseIndex(load_phrases("links"))


def _lured(ctx: Context) -> bool:
    return ctx.normalised is not None and bool(_LURES.find(ctx.normalised.kana))


def detect(ctx: Context) -> list[Match]:
    urls = find_urls(ctx.original)
    if not urls:
        return []
    lured = _lured(ctx)
    matches: list[Match] = []
    for url in urls:
        best: dict[str, Finding] = {}
        for f in judge(url, lured):
            if f.category not in best or f.score > best[f.category].score:
                best[f.category] = f
        for f in best.values():
            text = ctx.original[url.start : url.end]
            matches.append(Match(f.rule, f.category, url.start, url.end, text, f.severity, round(f.score, 3)))
    return matches


def phase(ctx: Context) -> Evidence | None:
    matches = detect(ctx)
    return Evidence(matches=matches) if matches else None
