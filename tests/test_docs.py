"""The documentation holds together: every relative link of README.md and docs/**/*.md leads to a
file that exists (and, with ``#anchor``, to a heading of it), and every code block marked
``<!-- example: <path> -->`` shows that file exactly as it is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PAGES = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").rglob("*.md"))]

#: Pages other branches of this round write (linked from here, merged by the lead): a link to one
#: of them is accepted while it is absent. Remove an entry once its page is on this branch.
PENDING = {
}

LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")
EXAMPLE = re.compile(r"<!-- example: (?P<path>\S+) -->\n```\w*\n(?P<code>.*?)```\n<!-- /example -->", re.S)


def _prose(text: str) -> str:
    """The text outside code blocks and code spans (where brackets are code, not links)."""
    return CODE.sub("", FENCE.sub("", text))


def anchors(text: str) -> set[str]:
    """GitHub's anchors of a Markdown file's headings (lower case, punctuation dropped, spaces to -)."""
    found: set[str] = set()
    for line in FENCE.sub("", text).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match[1].strip().lower().replace("`", "")).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


def links(page: Path) -> list[str]:
    return [target for target in LINK.findall(_prose(page.read_text()))
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]  # http:, https:, mailto: are not checked here


def broken(page: Path, root: Path = PROJECT_ROOT) -> list[str]:
    problems = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        rel = resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(resolved)
        if not resolved.exists():
            if rel not in PENDING:
                problems.append(f"{target}: {rel} does not exist")
            continue
        if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved.read_text()):
            problems.append(f"{target}: no heading #{anchor} in {rel}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(PROJECT_ROOT).as_posix())
def test_every_relative_link_leads_somewhere(page):
    assert broken(page) == []


def test_pending_pages_are_still_pending():
    arrived = [rel for rel in PENDING if (PROJECT_ROOT / rel).exists()]
    assert not arrived, f"{arrived} now exist: remove them from PENDING in tests/test_docs.py"


def test_the_checker_finds_a_broken_file_link_and_a_broken_anchor(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## The `make` targets, and more\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md) [ok](other.md#the-make-targets-and-more) [ok](#here) [web](https://example.com)\n"
        "[gone](missing.md) [bad anchor](other.md#nowhere) `[not a link](in-code.md)`\n"
        "```\n[not a link](in-a-fence.md)\n```\n# Here\n"
    )
    assert broken(page, tmp_path) == [
        "missing.md: missing.md does not exist", "other.md#nowhere: no heading #nowhere in other.md"]


def test_the_readme_stays_short_and_starts_with_the_library():
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    assert "make synth" in readme and "make test" in readme
    first_screen = "\n".join(readme.splitlines()[:80])
    assert 'EventPipeline(stack, "orders")' in first_screen


def test_every_marked_example_shows_its_file():
    shown = [(page, m) for page in PAGES for m in EXAMPLE.finditer(page.read_text())]
    assert any(m["path"] == "examples/two_pipelines_app.py" for _, m in shown)
    for page, match in shown:
        assert match["code"] == (PROJECT_ROOT / match["path"]).read_text(), (
            f"{page.relative_to(PROJECT_ROOT)} shows an outdated copy of {match['path']}")


def test_the_package_declares_the_license_it_ships():
    import tomllib

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    text = (PROJECT_ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 The event-pipeline-constructs authors" in text
