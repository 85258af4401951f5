"""Every citation of the repository's own documents points to a file and section that
exist (``docs/nse.md`` §2.1 needs a heading ``### §2.1`` in docs/nse.md)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITATION = re.compile(r"(docs/[\w-]+\.md)`*((?:\s*§[\d.]+(?:[–-]§?[\d.]+)?)*)")


def _citations() -> list[tuple[Path, str, str]]:
    found = []
    for package in ("sim", "mechanisms", "agents", "runs", "tests", "bench"):
        for path in (ROOT / package).rglob("*.py"):
            for match in CITATION.finditer(path.read_text()):
                found.append((path, match.group(1), match.group(2)))
    return found


def _sections(text: str) -> set[str]:
    return set(re.findall(r"^#+ §([\d.]+)", text, flags=re.MULTILINE))


def test_every_cited_document_and_section_exists():
    citations = _citations()
    assert len(citations) > 20  # the pattern still finds the project's citations
    for path, document, sections in citations:
        target = ROOT / document
        assert target.is_file(), f"{path.name} cites {document}, which does not exist"
        have = _sections(target.read_text())
        for section in re.findall(r"[\d.]+", sections):
            assert section.rstrip(".") in have, f"{path.name} cites {document} §{section}"
