"""Exporting a 証拠記録 (課長 and 管理者 only; audited): a PDF for people and a JSON file for checking.

Both carry the SHA-256 of the record's canonical JSON, computed when it was frozen (service.evidence.records).
The JSON file holds that canonical text as a string, byte for byte, next to its hash, so anyone can check a
copy later without this service: the SHA-256 of `record_json` (UTF-8) must equal `sha256`. The PDF is A4 in
Japanese with the weekly report's font (IPAexGothic from matplotlib-fontja, embedded through @font-face) so it
prints the same on a server without Japanese system fonts.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from jinja2 import Environment, FileSystemLoader, select_autoescape

from service.audit import AuditEntry, AuditLog
from service.evidence.records import EvidenceRecord, evidence_key, records
from service.store import jst_iso

FORMAT = "shakyo-evidence/1"
EXPORTED = "evidence_exported"
_TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True, slots=True)
class Export:
    filename: str
    media_type: str
    content: bytes
    sha256: str


def count(r: redis.Redis, item: str) -> int:
    return int(r.xlen(evidence_key(item)))


def latest(r: redis.Redis, item: str) -> tuple[EvidenceRecord, list[EvidenceRecord]] | None:
    """The item's latest record and every record before it (oldest first); None when it has none."""
    found = records(r, item)
    return (found[-1], found[:-1]) if found else None


def verified(record: EvidenceRecord) -> bool:
    """The stored hash still matches the stored JSON (an export never vouches for a record that does not)."""
    return hashlib.sha256(record.json.encode("utf-8")).hexdigest() == record.sha256


def export(
    r: redis.Redis, item: str, fmt: str, *, actor: str, role: str, now: float | None = None
) -> Export | None:
    """The file for `fmt` ("pdf" or "json"), audited; None when the item has no record."""
    found = latest(r, item)
    if found is None:
        return None
    record, earlier = found
    at = time.time() if now is None else now
    base = f"shoko-{item.replace(':', '-')}-{record.sha256[:12]}"
    if fmt == "pdf":
        out = Export(f"{base}.pdf", "application/pdf", render_pdf(record, earlier, actor, at), record.sha256)
    else:
        out = Export(f"{base}.json", "application/json", json_file(record, actor, at), record.sha256)
    AuditLog(r).append(
        AuditEntry(
            at=at,
            actor=actor,
            role=role,
            action=EXPORTED,
            item_id=item,
            note=fmt.upper(),
            detail=json.dumps({"format": fmt, "sha256": record.sha256, "record": record.entry_id}),
        )
    )
    return out


def json_file(record: EvidenceRecord, actor: str, at: float) -> bytes:
    wrapper = {
        "format": FORMAT,
        "sha256": record.sha256,
        "hash_of": "record_json (UTF-8)",
        "record_json": record.json,
        "hash_verified_at_export": verified(record),
        "exported_at": jst_iso(at),
        "exported_by": actor,
    }
    return json.dumps(wrapper, ensure_ascii=False, indent=2).encode("utf-8")


def render_html(
    record: EvidenceRecord, earlier: list[EvidenceRecord], actor: str, at: float, *, font_url: str
) -> str:
    env = Environment(loader=FileSystemLoader(str(_TEMPLATES)), autoescape=select_autoescape(default=True))
    data: dict[str, Any] = record.data
    return env.get_template("record.html").render(
        r=data,
        sha256=record.sha256,
        hash_ok=verified(record),
        earlier=earlier,
        exported_at=jst_iso(at),
        exported_by=actor,
        font_url=font_url,
        jst_iso=jst_iso,
    )


def render_pdf(record: EvidenceRecord, earlier: list[EvidenceRecord], actor: str, at: float) -> bytes:
    from weasyprint import HTML  # heavy imports (weasyprint, matplotlib): only an export needs them

    from service.reports.charts import FONT_PATH

    pdf: bytes = HTML(string=render_html(record, earlier, actor, at, font_url=FONT_PATH.as_uri())).write_pdf()
    return pdf
