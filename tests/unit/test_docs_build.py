"""The documentation builds as ``make docs`` builds it (warnings are errors, every reference resolves), with every
page and diagram in the HTML."""

import builtins
import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sphinx  # noqa: F401  - a [dev] dependency: the docs are part of the product

from sosw import constants
from tests.conftest import ROOT

DOCS = ROOT / "docs"

PAGES = [
    "index",
    "installation",
    "essentials/index",
    "essentials/processor",
    "essentials/worker",
    "essentials/scheduler",
    "essentials/orchestrator",
    "essentials/scavenger",
    "essentials/worker_assistant",
    "greenfield",
    "components/index",
    "components/dynamo_db",
    "components/config",
    "components/sns",
    "components/siblings",
    "components/benchmark",
    "components/helpers",
    "managers/index",
    "managers/task",
    "managers/ecology",
    "managers/meta_handler",
    "reference/index",
    "reference/exceptions",
    "reference/constants",
    "reference/local",
    "reference/deployer",
    "reference/cli",
    "tutorials/index",
    "tutorials/hashtags_local",
    "tutorials/hashtags_aws",
    "tutorials/testing",
    "migration",
    "performance",
    "contributing",
]

DIAGRAMS = {"index": ["workflow"], "greenfield": ["greenfield_timeline", "greenfield_states"]}


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html", "-d", str(out / "doctrees"),
         str(DOCS), str(out / "html")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, f"sphinx failed:\n{result.stdout}\n{result.stderr}"
    return out / "html"


def test_every_page_is_built(html):
    missing = [page for page in PAGES if not (html / f"{page}.html").is_file()]
    assert not missing


def test_every_page_is_in_the_toc(html):
    """No page is left out of the navigation: each appears in the index's table of contents."""
    index = (html / "index.html").read_text(encoding="utf-8")
    pages = [page for page in PAGES if page != "index"]
    assert [page for page in pages if f'href="{page}.html' not in index] == []


@pytest.mark.parametrize("page", sorted(DIAGRAMS))
def test_diagrams_are_inline_svg(html, page):
    text = (html / f"{page}.html").read_text(encoding="utf-8")
    for name in DIAGRAMS[page]:
        assert f"id='diagram-{name}'" in text
        assert (html / "_images" / "diagrams" / f"{name}.svg").read_text(encoding="utf-8").startswith("<svg")
    assert text.count("<svg") >= len(DIAGRAMS[page])


def test_timeline_numbers_come_from_the_constants(html):
    svg = (html / "_images" / "diagrams" / "greenfield_timeline.svg").read_text(encoding="utf-8")
    delta = f"{constants.GREENFIELD_INVOCATION_DELTA:,}".replace(",", " ")
    window = f"{constants.DEFAULT_DURATION + constants.DEFAULT_COOLDOWN:,}".replace(",", " ")
    assert f"S + {delta}" in svg and f"I - {window}" in svg


def test_iam_tables_are_read_from_the_templates(html):
    text = (html / "installation.html").read_text(encoding="utf-8")
    assert text.count("iam-permissions") >= 5
    for action in ("dynamodb:UpdateItem", "sns:Publish", "s3:PutObject", "lambda:InvokeFunction"):
        assert action in text


def test_api_reference_documents_the_public_names(html):
    text = "".join(p.read_text(encoding="utf-8") for p in html.rglob("*.html"))
    for name in ("sosw.app.Processor", "sosw.app.get_lambda_handler", "sosw.worker.Worker",
                 "sosw.scheduler.Scheduler", "sosw.orchestrator.Orchestrator", "sosw.scavenger.Scavenger",
                 "sosw.worker_assistant.WorkerAssistant", "sosw.essential.Essential", "sosw.labourer.Labourer",
                 "sosw.managers.task.TaskManager", "sosw.managers.ecology.EcologyManager",
                 "sosw.managers.meta_handler.MetaHandler", "sosw.components.dynamo_db.DynamoDbClient",
                 "sosw.components.dynamo_db.clean_dynamo_table", "sosw.components.config.ConfigSource",
                 "sosw.components.config.get_config", "sosw.components.siblings.SiblingsManager",
                 "sosw.components.sns.SnsManager", "sosw.components.benchmark.benchmark",
                 "sosw.components.helpers.recursive_update", "sosw.exceptions.SoswError"):
        assert f'id="{name}"' in text, name


def test_diagram_sources_are_checked():
    spec = importlib.util.spec_from_file_location("docs_diagrams", DOCS / "_ext" / "diagrams.py")
    diagrams = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(diagrams)
    node = {"id": "a", "label": "A", "x": 50, "y": 50, "w": 60, "h": 30}
    assert "<svg" in diagrams.render({"nodes": [node], "edges": []})
    with pytest.raises(diagrams.DiagramError, match="unknown node 'b'"):
        diagrams.render({"nodes": [node], "edges": [{"from": "a", "to": "b"}]})
    with pytest.raises(diagrams.DiagramError, match="missing"):
        diagrams.render({"nodes": [{"id": "a"}]})


def _migration_section(title: str) -> str:
    """The text of the section of docs/migration.rst that starts with the paragraph ``**<title>**``."""
    text = (DOCS / "migration.rst").read_text(encoding="utf-8")
    start = text.index(f"**{title}**")
    end = text.index("\n**", start + 1)
    return text[start:end]


def test_migration_exception_table_matches_the_classes():
    """Each error the migration page lists is an instance of every built-in error the page says catches it."""
    table = _migration_section("Errors are still the built-in errors the original raised.")
    rows = table.split("\n   * - ")[2:]  # after the header row
    assert len(rows) >= 10
    for row in rows:
        names, caught_by = row.split("\n     - ", 1)
        built_ins = [getattr(builtins, name) for name in re.findall(r"``(\w+)``", caught_by)
                     if hasattr(builtins, name)]
        for dotted in re.findall(r"sosw\.[\w.]+\w", names):
            module, _, name = dotted.rpartition(".")
            error = getattr(importlib.import_module(module), name)
            for built_in in built_ins:
                assert issubclass(error, built_in), f"{dotted} is no {built_in.__name__}"


def test_migration_patchable_names_exist():
    """The names the migration page tells users to patch are module attributes that patch() can replace."""
    section = _migration_section("The names your tests patch are looked up when they are used")
    dotted_names = set(re.findall(r"``(sosw\.[\w.]+)``", section))
    assert {"sosw.app.get_config", "sosw.scheduler.datetime", "sosw.components.config.DynamoConfig"} <= dotted_names
    for dotted in dotted_names:
        module, _, name = dotted.rpartition(".")
        assert hasattr(importlib.import_module(module), name), dotted
