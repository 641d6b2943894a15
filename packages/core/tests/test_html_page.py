"""The HTML report page: self-contained, escaped, one section per name, PNGs checked."""

import base64
import datetime as dt
import re
import struct
import zlib

import pytest
from canids_core import HtmlPage, png_data_uri


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    """A real PNG (grey pixels), written with the standard library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_a_page_embeds_its_images_and_escapes_every_text():
    page = HtmlPage("run <demo>", subtitle="teacher & co")
    split = page.section("test_01 <split>", kind="split", name="test_01")
    split.paragraph("a < b & c").table(["model", "f1"], [["gat", "0.5"], ["vgae", None]])
    split.image(tiny_png(), alt='ROC "curves"', caption="frozen")
    page.section("commands").code("canids-train vgae --set 'a=<b>'")
    text = page.render(generated=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    assert text.startswith("<!DOCTYPE html>")
    assert "<script" not in text
    assert "http" not in text
    assert "run &lt;demo&gt;" in text
    assert "teacher &amp; co" in text
    assert "a &lt; b &amp; c" in text
    assert 'alt="ROC &quot;curves&quot;"' in text
    assert "--set &#x27;a=&lt;b&gt;&#x27;" in text
    assert '<td class="num">0.5</td>' in text
    assert '<td class="num">undefined</td>' in text
    assert "generated 2026-01-02 03:04:05 UTC" in text
    (uri,) = re.findall(r'src="(data:image/png;base64,[^"]+)"', text)
    assert base64.b64decode(uri.split(",", 1)[1]) == tiny_png()
    sections = re.findall(r'<section id="([^"]+)"( class="split")? data-name="([^"]+)"', text)
    assert sections == [("test_01", ' class="split"', "test_01"), ("commands", "", "commands")]
    assert '<a href="#test_01">test_01 &lt;split&gt;</a>' in text


def test_anchors_are_unique_and_safe():
    page = HtmlPage("p")
    names = [page.section(t).anchor for t in ("A b", "a-b", "../x", "")]
    assert names == ["a-b", "a-b-2", "x", "section"]


def test_what_is_not_a_png_is_refused_when_the_page_is_written():
    with pytest.raises(ValueError, match=r"not a PNG image .* print_png"):
        png_data_uri(b"<svg/>")
    with pytest.raises(ValueError, match="2 cells for 1 columns"):
        HtmlPage("p").section("s").table(["a"], [[1, 2]])
