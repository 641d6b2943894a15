"""docs/results.md opens with its contents: every ``## `` section in page order (newest
measurement first), each a link to its heading's anchor as GitHub renders it, so a reader
finds a version's verdict without scrolling through them all. The block cannot drift:
this test compares it with the headings, and ``python tests/test_results_page.py`` writes
it again after a section is added."""

from __future__ import annotations

import re
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "results.md"
START, END = "<!-- contents: python tests/test_results_page.py -->", "<!-- /contents -->"


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation and symbols dropped (letters,
    digits, ``_`` and ``-`` kept), each space a hyphen."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def contents(page: str) -> str:
    body = page.split(END, 1)[-1]
    headings = [line[3:].strip() for line in body.splitlines() if line.startswith("## ")]
    lines = [f"- [{h.replace('[', '(').replace(']', ')')}](#{anchor(h)})" for h in headings]
    return "\n".join([START, *lines, END])


def _block(page: str) -> str:
    if START not in page or END not in page:
        raise AssertionError(f"{PAGE}: no contents block ({START} ... {END})")
    return page[page.index(START) : page.index(END) + len(END)]


def test_the_contents_list_every_section_in_order() -> None:
    page = PAGE.read_text()
    assert _block(page) == contents(page), (
        "docs/results.md's contents differ from its sections: run python tests/test_results_page.py"
    )


def test_every_anchor_is_unique_and_names_a_heading() -> None:
    page = PAGE.read_text()
    targets = re.findall(r"\]\(#([^)]+)\)", _block(page))
    assert len(targets) >= 10
    assert len(set(targets)) == len(targets), "two sections share an anchor"


def test_the_anchor_is_github_s() -> None:
    assert anchor("canids-models 0.26.0: the student's `cut_max` (run on 2026-12-06)") == (
        "canids-models-0260-the-students-cut_max-run-on-2026-12-06"
    )
    assert anchor("calibrated F1 ≥ 0.95 → met") == "calibrated-f1--095--met"


if __name__ == "__main__":
    text = PAGE.read_text()
    PAGE.write_text(text.replace(_block(text), contents(text)))
    sys.exit(0)
