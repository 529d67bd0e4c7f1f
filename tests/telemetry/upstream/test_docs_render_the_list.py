"""docs/upstream.md carries the list of private symbols as telemetry.upstream renders it, so
the page a human reads at an upgrade is the list the code checks."""

from __future__ import annotations

from telemetry.upstream.private_api import PRIVATE_SYMBOLS
from telemetry.upstream.rendering import BEGIN, END, markdown
from tests.paths import REPO_ROOT

PAGE = REPO_ROOT / "docs" / "upstream.md"


def test_the_page_holds_the_list_as_rendered():
    text = PAGE.read_text()
    generated = text[text.index(BEGIN) : text.index(END) + len(END) + 1]
    assert generated == markdown(), "run `.venv/bin/python -m telemetry.upstream` and paste it"


def test_the_rendering_names_every_symbol_its_users_and_its_fallback():
    rendered = markdown()
    for symbol in PRIVATE_SYMBOLS:
        assert f"`{symbol.dotted}`" in rendered
        assert symbol.fallback in rendered
        for path in symbol.used_by:
            assert f"`{path}`" in rendered


def test_the_architecture_page_links_it():
    architecture = (REPO_ROOT / "docs" / "architecture.md").read_text()
    assert "upstream/                what our code relies on" in architecture
    assert "(docs/upstream.md)" in architecture
