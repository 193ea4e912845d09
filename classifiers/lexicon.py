"""The keyword lexicon: parsing the bundled TSV files and the site file, compiling one Aho-Corasick automaton.

Files (format in ``data/LEXICON.md``):
- ``data/lexicon.tsv`` — versioned entries (id, entry, category, clause, severity, mode, requires, except).
- ``data/allow.tsv`` — welfare phrases whose spans cancel matches of the listed categories.
- the site file (``config.CONFIG.site_lexicon_path``) — the same columns plus ``action`` (add/remove),
  so the council can add or withdraw words without a code change. It is re-read when its mtime changes
  (checked at most once a second); a broken site file keeps the last good lexicon and logs a warning.

Every term is normalised exactly like comments are (``normalise(...).kana``) so that one automaton pass over
``Normalised.kana`` finds entries, their ``requires``/``except`` terms and allow phrases together.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import ahocorasick

from classifiers.categories import CATEGORIES, Severity
from classifiers.config import CONFIG
from classifiers.phases.normalise import normalise

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
LEXICON_PATH = DATA_DIR / "lexicon.tsv"
ALLOW_PATH = DATA_DIR / "allow.tsv"

MODES = ("substring", "word")
_VERSION_RE = re.compile(r"^#\s*version:\s*(\d{4}\.\d{2}\.\d+)\s*$")
_LIST_SEP = "|"
# The site file is stat()ed at most this often; classification must not hit the disk per comment.
SITE_CHECK_INTERVAL = 1.0


class LexiconError(ValueError):
    """A lexicon file that cannot be used; the message names the file and line for staff."""


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    entry: str
    category: str
    clause: str
    severity: Severity
    mode: str  # substring | word (must align with SudachiPy token boundaries)
    # Both hold normalised keys (as matched against Normalised.kana), not the file's spelling.
    requires: tuple[str, ...] = ()  # at least one must also occur in the comment
    exceptions: tuple[str, ...] = ()  # an occurrence overlapping the match cancels it


@dataclass(frozen=True, slots=True)
class AllowPhrase:
    id: str
    phrase: str
    categories: frozenset[str]  # matches of these categories inside the phrase are dropped


def _key(term: str) -> str:
    return normalise(term).kana


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in value.split(_LIST_SEP) if t.strip())


def _key_list(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(k for k in map(_key, _split_list(value)) if k))


def _rows(text: str, source: str) -> tuple[str | None, list[tuple[int, dict[str, str]]]]:
    """Parse a TSV with ``#`` comments and a header row; returns the version line and rows by column."""
    version: str | None = None
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        if line.lstrip().startswith("#"):
            m = _VERSION_RE.match(line.strip())
            if m:
                version = m.group(1)
            continue
        cells = [c.strip() for c in line.split("\t")]
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if len(cells) > len(header):
            raise LexiconError(f"{source}:{lineno}: 列が多すぎます / too many columns")
        cells += [""] * (len(header) - len(cells))
        rows.append((lineno, dict(zip(header, cells, strict=True))))
    if header is None:
        raise LexiconError(f"{source}: 見出し行がありません / missing header row")
    return version, rows


def _entry(row: dict[str, str], where: str) -> Entry:
    ident = row.get("id", "")
    term = row.get("entry", "")
    category = row.get("category", "")
    if not ident or not term:
        raise LexiconError(f"{where}: id と entry は必須です / id and entry are required")
    if category not in CATEGORIES:
        raise LexiconError(f"{where}: 不明な分類 {category!r} / unknown category")
    cat = CATEGORIES[category]
    clause = row.get("clause") or cat.clauses[0]
    if clause not in cat.clauses:
        raise LexiconError(
            f"{where}: 条項 {clause!r} は {category} にありません / clause does not fit category"
        )
    try:
        severity = Severity.parse(row["severity"]) if row.get("severity") else cat.default_severity
    except KeyError:
        raise LexiconError(f"{where}: 不明な重大度 {row.get('severity')!r} / unknown severity") from None
    if severity is Severity.NONE:
        raise LexiconError(f"{where}: 重大度 none は使えません / severity none is not allowed")
    mode = row.get("mode") or "substring"
    if mode not in MODES:
        raise LexiconError(f"{where}: 不明な照合方法 {mode!r} / unknown match mode")
    if not _key(term):
        raise LexiconError(f"{where}: 正規化すると空になる語です / entry is empty after normalisation")
    return Entry(
        ident,
        term,
        category,
        clause,
        severity,
        mode,
        _key_list(row.get("requires", "")),
        _key_list(row.get("except", "")),
    )


def parse_lexicon(text: str, source: str = "lexicon.tsv") -> tuple[str, list[Entry]]:
    version, rows = _rows(text, source)
    if version is None:
        raise LexiconError(f"{source}: '# version: YYYY.MM.N' 行がありません / missing version line")
    entries = [_entry(row, f"{source}:{lineno}") for lineno, row in rows]
    seen: set[str] = set()
    for e in entries:
        if e.id in seen:
            raise LexiconError(f"{source}: id {e.id!r} が重複しています / duplicate id")
        seen.add(e.id)
    return version, entries


def parse_allow(text: str, source: str = "allow.tsv") -> list[AllowPhrase]:
    _, rows = _rows(text, source)
    phrases: list[AllowPhrase] = []
    for lineno, row in rows:
        where = f"{source}:{lineno}"
        phrase = row.get("phrase", "")
        if not row.get("id") or not phrase or not _key(phrase):
            raise LexiconError(f"{where}: id と phrase は必須です / id and phrase are required")
        cats = frozenset(_split_list(row.get("categories", "")))
        unknown = cats - CATEGORIES.keys()
        if not cats or unknown:
            raise LexiconError(f"{where}: 不明な分類 {sorted(unknown)} / unknown category")
        phrases.append(AllowPhrase(row["id"], phrase, cats))
    return phrases


@dataclass(frozen=True, slots=True)
class SiteChanges:
    added: list[Entry]
    removed: frozenset[str]  # ids, and entries by their normalised key


def parse_site(text: str, source: str = "site lexicon") -> SiteChanges:
    _, rows = _rows(text, source)
    added: list[Entry] = []
    removed: set[str] = set()
    for lineno, row in rows:
        where = f"{source}:{lineno}"
        action = row.get("action", "").lower()
        if action == "add":
            added.append(_entry(row, where))
        elif action == "remove":
            if not row.get("id") and not row.get("entry"):
                raise LexiconError(f"{where}: remove には id か entry が必要です / remove needs id or entry")
            if row.get("id"):
                removed.add(row["id"])
            if row.get("entry"):
                removed.add("entry:" + _key(row["entry"]))
        else:
            raise LexiconError(f"{where}: action は add か remove です / action must be add or remove")
    return SiteChanges(added, frozenset(removed))


# Kinds of automaton payload: a lexicon entry, a requires/except term, an allow phrase.
ENTRY, TERM, ALLOW = 0, 1, 2


@dataclass(frozen=True, slots=True)
class CompiledLexicon:
    version: str
    entries: tuple[Entry, ...]
    allow: tuple[AllowPhrase, ...]
    # key -> (key length, tuple of (kind, index), whether any is no TERM): index into entries/allow, or the
    # term itself for TERM. The flag lets a comment whose hits are all terms (して, 募集) be passed over at once.
    automaton: ahocorasick.Automaton


def _long_vowel_keys(key: str) -> list[str]:
    """The key plus every spelling with some of its ー dropped.

    Comments lose a stretched ー run entirely (オナニーーー -> おなに), so an entry spelled with ー must
    also be found without it. Entries have few marks, so the subsets stay small; a shortened spelling
    under four characters is too likely to occur inside ordinary words (バーカ -> ばか in ばかり), so
    those are left out.
    """
    positions = [i for i, c in enumerate(key) if c == "ー"][:4]
    keys = []
    for mask in range(1 << len(positions)):
        drop = {positions[b] for b in range(len(positions)) if mask >> b & 1}
        variant = "".join(c for i, c in enumerate(key) if i not in drop)
        if variant == key or len(variant) >= 4:
            keys.append(variant)
    return list(dict.fromkeys(keys))


def compile_lexicon(version: str, entries: list[Entry], allow: list[AllowPhrase]) -> CompiledLexicon:
    payloads: dict[str, list[tuple[int, int | str]]] = {}
    for i, e in enumerate(entries):
        for key in _long_vowel_keys(_key(e.entry)):
            payloads.setdefault(key, []).append((ENTRY, i))
        for key in (*e.requires, *e.exceptions):
            if (TERM, key) not in payloads.setdefault(key, []):
                payloads[key].append((TERM, key))
    for i, a in enumerate(allow):
        payloads.setdefault(_key(a.phrase), []).append((ALLOW, i))
    automaton = ahocorasick.Automaton()
    for key, values in payloads.items():
        automaton.add_word(key, (len(key), tuple(values), any(kind != TERM for kind, _ in values)))
    automaton.make_automaton()
    return CompiledLexicon(version, tuple(entries), tuple(allow), automaton)


def apply_site(base: list[Entry], changes: SiteChanges) -> list[Entry]:
    kept = [
        e for e in base if e.id not in changes.removed and "entry:" + _key(e.entry) not in changes.removed
    ]
    ids = {e.id for e in kept}
    for e in changes.added:
        if e.id in ids:
            raise LexiconError(
                f"サイト辞書の id {e.id!r} が既存と重複しています / site id duplicates an entry"
            )
        ids.add(e.id)
        kept.append(e)
    return kept


class LexiconStore:
    """Holds the compiled lexicon; swaps in a new one when the site file changes (thread-safe)."""

    def __init__(self, lexicon_path: Path = LEXICON_PATH, allow_path: Path = ALLOW_PATH) -> None:
        self._lexicon_path = lexicon_path
        self._allow_path = allow_path
        self._lock = threading.Lock()
        self._base: tuple[str, list[Entry], list[AllowPhrase]] | None = None
        self._current: CompiledLexicon | None = None
        self._site_path: Path | None = None
        self._site_stamp: tuple[int, int] | None = None
        self._next_check = 0.0

    def _load_base(self) -> tuple[str, list[Entry], list[AllowPhrase]]:
        if self._base is None:
            version, entries = parse_lexicon(
                self._lexicon_path.read_text(encoding="utf-8"), self._lexicon_path.name
            )
            allow = parse_allow(self._allow_path.read_text(encoding="utf-8"), self._allow_path.name)
            self._base = (version, entries, allow)
        return self._base

    def get(self) -> CompiledLexicon:
        current = self._current
        now = time.monotonic()
        if current is not None and now < self._next_check:
            return current
        with self._lock:
            if self._current is not None and now < self._next_check:
                return self._current
            self._next_check = now + SITE_CHECK_INTERVAL
            self._refresh()
            assert self._current is not None
            return self._current

    def _refresh(self) -> None:
        version, entries, allow = self._load_base()
        path = CONFIG.site_lexicon_path
        try:
            st = os.stat(path) if path is not None else None
        except OSError:
            st = None  # no site file yet: the bundled lexicon alone
        stamp = (st.st_mtime_ns, st.st_size) if st is not None else None
        if self._current is not None and path == self._site_path and stamp == self._site_stamp:
            return
        if path is None or stamp is None:
            self._current = compile_lexicon(version, entries, allow)
        else:
            try:
                changes = parse_site(Path(path).read_text(encoding="utf-8"), Path(path).name)
                merged = apply_site(entries, changes)
            except (OSError, UnicodeDecodeError, LexiconError) as exc:
                log.warning(
                    "サイト辞書を読み込めません。前回の辞書を使い続けます / "
                    "site lexicon unusable, keeping the last good lexicon: %s",
                    exc,
                )
                if self._current is None:
                    self._current = compile_lexicon(version, entries, allow)
                # Remember the broken stamp so the warning is not repeated every second.
                self._site_path, self._site_stamp = path, stamp
                return
            self._current = compile_lexicon(version, merged, allow)
        self._site_path, self._site_stamp = path, stamp

    def invalidate(self) -> None:
        """Force a check of the site file on the next get() (after the service rewrote it)."""
        self._next_check = 0.0


STORE = LexiconStore()


def current() -> CompiledLexicon:
    return STORE.get()
