"""The README's snippets, for the tests that run them: what a user copies is what is tested."""

import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

README = Path(__file__).resolve().parents[2] / "README.md"


def snippet(heading: str, language: str, index: int = 0) -> str:
    """The `index`-th fenced block of `language` in the README section titled `heading` (up to
    the next heading)."""
    text = README.read_text()
    start = text.index(f"\n### {heading}\n")
    following = re.search(r"\n#{2,3} ", text[start + 1 :])
    section = text[start : start + 1 + following.start()] if following else text[start:]
    blocks = re.findall(rf"```{language}\n(.*?)```", section, re.S)
    return str(blocks[index])


def yaml_snippet(heading: str, index: int = 0) -> Any:
    """The `index`-th YAML block of a README section, parsed."""
    return YAML(typ="safe").load(snippet(heading, "yaml", index))
