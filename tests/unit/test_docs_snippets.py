"""The documentation's examples cannot rot: every snippet that needs no AWS runs here, each in its own process.

Snippets live in ``docs/snippets/offline`` (no AWS: run here) and ``docs/snippets/aws`` (run against moto by
``tests/integration/test_docs_snippets.py``). This module also checks that every snippet is shown on some page, that
every JSON block of the pages parses, and that no Python block is written into a page unless marked as a fragment.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOCS = ROOT / "docs"
SNIPPETS = DOCS / "snippets"
OFFLINE = sorted((SNIPPETS / "offline").glob("*.py"))
PAGES = sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts)

_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. (?P<name>[\w-]+(?:::[\w-]+)?)::[ \t]*(?P<arg>.*)$")
_OPTION = re.compile(r"^[ \t]+:(?P<name>[\w-]+):(?P<value>.*)$")


def directives(page: Path):
    """(directive name, argument, options, body) of every directive of a page."""
    lines = page.read_text(encoding="utf-8").splitlines()
    literal_until = -1  # the body of a code block is text, even when it shows a directive
    for index, line in enumerate(lines):
        match = _DIRECTIVE.match(line) if index > literal_until else None
        if not match:
            continue
        indent = len(match["indent"])
        options, body, position = {}, [], index + 1
        while position < len(lines) and _OPTION.match(lines[position]):
            option = _OPTION.match(lines[position])
            options[option["name"]] = option["value"].strip()
            position += 1
        for body_line in lines[position:]:
            if body_line.strip() and len(body_line) - len(body_line.lstrip()) <= indent:
                break
            body.append(body_line)
        if match["name"] in ("code-block", "code", "sourcecode"):
            literal_until = position + len(body) - 1
        yield match["name"], match["arg"].strip(), options, "\n".join(body)


def included_files():
    """Every file a page includes with literalinclude, resolved."""
    for page in PAGES:
        for name, argument, _, _ in directives(page):
            if name == "literalinclude":
                yield page, (page.parent / argument).resolve()


def snippet_env() -> dict:
    """The test environment (fake credentials, AWS endpoint on a closed port) with this checkout importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def test_there_are_offline_snippets():
    assert len(OFFLINE) >= 15


@pytest.mark.parametrize("snippet", OFFLINE, ids=[p.stem for p in OFFLINE])
def test_offline_snippet_runs(snippet):
    result = subprocess.run([sys.executable, str(snippet)], cwd=ROOT, env=snippet_env(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, f"{snippet.name} failed:\n{result.stdout}\n{result.stderr}"


def test_every_snippet_is_shown_on_a_page():
    shown = {path for _, path in included_files()}
    orphans = [str(p.relative_to(ROOT)) for p in sorted(SNIPPETS.rglob("*.py")) if p.resolve() not in shown]
    assert not orphans, f"snippets no page includes: {orphans}"


def test_every_included_file_exists():
    missing = [f"{page.relative_to(ROOT)}: {path}" for page, path in included_files() if not path.is_file()]
    assert not missing


def test_snippets_are_offline_or_aws():
    folders = {p.parent.name for p in SNIPPETS.rglob("*.py")}
    assert folders <= {"offline", "aws"}


def test_json_blocks_parse():
    blocks = [(page, body) for page in PAGES for name, argument, _, body in directives(page)
              if name in ("code-block", "code") and argument == "json"]
    assert blocks
    for page, body in blocks:
        try:
            json.loads(body)
        except ValueError as err:
            pytest.fail(f"{page.relative_to(ROOT)}: a JSON block does not parse ({err}):\n{body}")


def test_python_blocks_in_pages_are_marked_fragments():
    """Python examples belong in docs/snippets, where they run; a page may hold only marked fragments."""
    unmarked = [str(page.relative_to(ROOT)) for page in PAGES for name, argument, options, _ in directives(page)
                if name in ("code-block", "code", "sourcecode") and argument in ("python", "python3", "py")
                and "fragment" not in options.get("class", "").split()]
    assert not unmarked, f"Python blocks outside docs/snippets (move them there, or mark :class: fragment): {unmarked}"
