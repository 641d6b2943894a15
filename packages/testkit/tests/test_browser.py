"""``render_page`` in a real headless Chromium: what loaded, what did not, the sections
and a screenshot of the whole page."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from canids_core import HtmlPage
from canids_testkit import BrowserError, render_page


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x40\x90\xd0" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_a_page_renders_with_its_images_sections_and_screenshot(tmp_path: Path, chromium):
    page = HtmlPage("browser check")
    for name in ("a", "b"):
        page.section(f"split {name}", kind="split", name=name).image(png(40, 30), alt=name)
    page.section("notes").paragraph("no image here")
    html = tmp_path / "page.html"
    # One image whose data is not an image: the browser must say it did not load.
    html.write_text(
        page.render().replace(
            "</main>", '<img alt="broken" src="data:image/png;base64,AAAA"></main>'
        )
    )
    rendered = render_page(html, tmp_path / "shots" / "page.png", width=800, chromium=chromium)
    assert rendered.title == "browser check"
    assert [(i["alt"], i["naturalWidth"], i["naturalHeight"]) for i in rendered.images[:2]] == [
        ("a", 40, 30),
        ("b", 40, 30),
    ]
    assert [i["alt"] for i in rendered.broken_images] == ["broken"]
    assert [s["name"] for s in rendered.sections_of("split")] == ["a", "b"]
    assert [s["title"] for s in rendered.sections] == ["split a", "split b", "notes"]
    shot = rendered.screenshot.read_bytes()
    assert shot.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", shot[16:24])
    assert (width, height) == (800, rendered.height)
    assert rendered.console_errors == []


def test_a_missing_browser_is_named(tmp_path: Path):
    with pytest.raises(
        BrowserError, match=r"cannot start .*no-chromium .*apt-get install chromium"
    ):
        render_page(tmp_path / "x.html", tmp_path / "x.png", chromium=str(tmp_path / "no-chromium"))
