"""The report as PDF (weasyprint), from the same HTML.

The font is the IPAexGothic file inside the matplotlib-fontja package, loaded through @font-face, so the
PDF embeds Japanese glyphs even on a server without any Japanese system font.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from service.reports.charts import FONT_PATH
from service.reports.render_html import render_html

# weasyprint logs every unsupported CSS property at WARNING; the screen-only rules are meant for browsers.
logging.getLogger("weasyprint").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)


def render_pdf(report: dict[str, Any], path: Path) -> None:
    from weasyprint import HTML  # heavy import: only the report job needs it

    HTML(string=render_html(report, font_url=FONT_PATH.as_uri())).write_pdf(path)
