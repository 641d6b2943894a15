"""The one HTML page builder: self-contained report pages (no JavaScript, no network, every
image embedded as a ``data:`` URI), so a page copied off a cluster opens anywhere.

Standard library only. Every text is escaped here; callers hand in plain text, table
cells and PNG bytes (drawn by whoever owns the numbers: canids-models' run report,
canids-jobs' submissions report), never markup.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
from collections.abc import Iterable, Sequence

__all__ = ["HtmlPage", "HtmlSection", "png_data_uri"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ANCHOR = re.compile(r"[^A-Za-z0-9_-]+")

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #1d2330; background: #f5f6f8; }
main { max-width: 1240px; margin: 0 auto; padding: 16px 24px 48px; }
header { background: #1d2330; color: #fff; padding: 18px 24px; }
header h1 { margin: 0 0 4px; font-size: 1.5em; }
header p { margin: 0; color: #c8cdd8; }
nav { margin: 12px 0; font-size: 0.95em; }
nav a { margin-right: 14px; }
section { background: #fff; border: 1px solid #dde1e8; border-radius: 6px;
          padding: 12px 20px 16px; margin: 16px 0; }
h2 { margin: 4px 0 10px; font-size: 1.25em; }
h3 { margin: 16px 0 6px; font-size: 1.05em; }
p.note { color: #5a6275; font-size: 0.92em; }
figure { margin: 10px 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eceff3; }
figcaption { color: #5a6275; font-size: 0.9em; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.9em; }
th, td { border: 1px solid #dde1e8; padding: 3px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #eef1f5; }
pre { background: #f0f2f5; padding: 8px 10px; overflow-x: auto; font-size: 0.88em; }
"""

_NUMBER = re.compile(r"^[-+]?[\d,]*\.?\d+(?:e[-+]?\d+)?(?: ?%)?$|^undefined$|^n/a$")


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,…`` of a PNG; anything that is not a PNG is refused here,
    so a broken figure fails when the page is written, not when someone opens it."""
    if not png.startswith(_PNG_SIGNATURE):
        raise ValueError(
            f"not a PNG image ({len(png)} bytes starting {png[:8]!r}): hand HtmlSection.image "
            "the bytes a figure's print_png wrote"
        )
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _cell(value: object) -> str:
    return "undefined" if value is None else str(value)


class HtmlSection:
    """One ``<section>`` of a page: headings, paragraphs, tables, images and code, in the
    order they are added. ``kind`` becomes its class (``split`` for a held-out split), so
    a test or a reader can find every section of a kind."""

    def __init__(self, title: str, anchor: str, kind: str, name: str) -> None:
        self.title, self.anchor, self.kind, self.name = title, anchor, kind, name
        self._parts: list[str] = []

    def heading(self, text: str) -> HtmlSection:
        self._parts.append(f"<h3>{html.escape(text)}</h3>")
        return self

    def paragraph(self, text: str, *, note: bool = False) -> HtmlSection:
        cls = ' class="note"' if note else ""
        self._parts.append(f"<p{cls}>{html.escape(text)}</p>")
        return self

    def items(self, lines: Iterable[str]) -> HtmlSection:
        body = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        self._parts.append(f"<ul>{body}</ul>")
        return self

    def table(self, header: Sequence[str], rows: Iterable[Sequence[object]]) -> HtmlSection:
        """Cells as text (``None`` reads ``undefined``); numeric cells align right."""
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = []
        for row in rows:
            if len(row) != len(header):
                raise ValueError(f"a row has {len(row)} cells for {len(header)} columns: {row}")
            cells = []
            for value in row:
                text = _cell(value)
                cls = ' class="num"' if _NUMBER.match(text) else ""
                cells.append(f"<td{cls}>{html.escape(text)}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        self._parts.append(
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )
        return self

    def image(self, png: bytes, alt: str, caption: str = "") -> HtmlSection:
        """A PNG embedded in the page (a ``data:`` URI), with its alt text and caption."""
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(
            f'<figure><img src="{png_data_uri(png)}" alt="{html.escape(alt, quote=True)}">'
            f"{cap}</figure>"
        )
        return self

    def code(self, text: str) -> HtmlSection:
        self._parts.append(f"<pre><code>{html.escape(text)}</code></pre>")
        return self

    def render(self) -> str:
        name = html.escape(self.name, quote=True)
        cls = f' class="{html.escape(self.kind, quote=True)}"' if self.kind else ""
        return (
            f'<section id="{self.anchor}"{cls} data-name="{name}">'
            f"<h2>{html.escape(self.title)}</h2>{''.join(self._parts)}</section>"
        )


class HtmlPage:
    """A report page: a title bar, a table of contents, then the sections in order."""

    def __init__(self, title: str, *, subtitle: str = "") -> None:
        self.title, self.subtitle = title, subtitle
        self.sections: list[HtmlSection] = []

    def section(self, title: str, *, kind: str = "", name: str | None = None) -> HtmlSection:
        """A new section; its anchor comes from ``name`` (default: the title), made unique."""
        name = title if name is None else name
        base = _ANCHOR.sub("-", name).strip("-").lower() or "section"
        anchor, n = base, 2
        while any(s.anchor == anchor for s in self.sections):
            anchor, n = f"{base}-{n}", n + 1
        found = HtmlSection(title, anchor, kind, name)
        self.sections.append(found)
        return found

    def render(self, *, generated: dt.datetime | None = None) -> str:
        when = (generated or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M:%S %Z")
        sub = f"{self.subtitle} · " if self.subtitle else ""
        toc = "".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in self.sections)
        body = "\n".join(s.render() for s in self.sections)
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head>\n"
            f"<body><header><h1>{html.escape(self.title)}</h1>"
            f"<p>{html.escape(sub)}generated {html.escape(when)}</p></header>\n"
            f"<main><nav>{toc}</nav>\n{body}\n</main></body></html>\n"
        )
