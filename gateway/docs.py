"""The generated parts of the docs: ``python -m gateway.docs`` (run by ``make docs``).

``docs/operations.md`` is written by hand except between ``<!-- generated: NAME -->`` and
``<!-- end: NAME -->`` markers, which are filled from the code (the settings, the metrics);
a test fails when the file and the code disagree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from gateway.metrics import metrics_markdown
from gateway.settings import reference_markdown

OPERATIONS = Path(__file__).resolve().parents[1] / "docs" / "operations.md"


def _settings_table() -> str:
    lines = reference_markdown().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| variable"))
    return "\n".join(lines[start:]) + "\n"


SECTIONS: dict[str, Callable[[], str]] = {
    "settings": _settings_table,
    "metrics": metrics_markdown,
}


def _replacement(content: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        return match.group(1) + content + match.group(2)

    return replace


def fill(text: str) -> str:
    """``text`` with every generated section rewritten from the code."""
    for name, render in SECTIONS.items():
        pattern = re.compile(rf"(<!-- generated: {name} -->\n).*?(<!-- end: {name} -->)", re.DOTALL)
        if not pattern.search(text):
            raise ValueError(f"docs/operations.md lacks the {name} markers")
        text = pattern.sub(_replacement(render()), text)
    return text


def main() -> None:
    """Rewrite the generated sections of ``docs/operations.md`` in place."""
    OPERATIONS.write_text(fill(OPERATIONS.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()
