"""Sphinx configuration of the sosw documentation.

Built with warnings as errors and nitpicky cross-references (see ``make docs``)::

    python -m sphinx -W --keep-going -n -b html docs docs/_build/html

No network at build time: no intersphinx. Diagrams are rendered to SVG by ``_ext/diagrams.py`` from the sources in
``diagrams/``.
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document this checkout's sosw, installed or not
sys.path.insert(0, str(DOCS / "_ext"))

from sosw import __version__  # noqa: E402

project = "sosw"
author = "sosw contributors"
copyright = "sosw contributors, MIT licence"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "diagrams",
    "iam_tables",
]

exclude_patterns = ["_build", "snippets", "diagrams", "_ext", "Thumbs.db", ".DS_Store"]
root_doc = "index"
language = "en"
pygments_style = "sphinx"

# Autodoc: documented members only, with their bases; members in source order, as the code tells the story.
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
    "member-order": "bysource",
}
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"
autodoc_preserve_defaults = True

# Types from outside sosw that appear in signatures and bases. Without intersphinx nothing can resolve them; each
# entry is a real type of the standard library, boto3 or botocore.
nitpicky = True
nitpick_ignore = [
    ("py:class", "botocore.exceptions.ClientError"),
    ("py:class", "botocore.config.Config"),
    ("py:class", "boto3.session.Session"),
    ("py:class", "boto3.dynamodb.conditions.ConditionBase"),
    ("py:class", "ConditionBase"),
    ("py:class", "Path"),
    ("py:class", "pathlib.Path"),
    ("py:class", "os.PathLike"),
    ("py:class", "datetime.date"),
    ("py:class", "datetime.datetime"),
    ("py:class", "decimal.Decimal"),
    ("py:class", "uuid.UUID"),
    ("py:class", "re.Pattern"),
    ("py:class", "collections.abc.Mapping"),
]
nitpick_ignore_regex = [
    # boto3-stubs client types, imported for type checkers only (e.g. DynamoDBClient, LambdaClient).
    ("py:class", r"(mypy_boto3_\w+\.(client\.)?)?[A-Z]\w*(Client|ServiceResource)"),
    # Aliases that the deployer and the local runtime use in annotations: Union[str, Path], Callable[..., Any].
    ("py:class", r"sosw\.(deployer|local\.lambda_service)\.(PathLike|Log|Handler|CodeResolver)"),
]

html_theme = "alabaster"
html_title = f"sosw {release}"
html_static_path = ["_static"]
html_css_files = ["sosw.css"]
html_theme_options = {
    "description": "Serverless Orchestrator of Serverless Workers",
    "fixed_sidebar": True,
    "page_width": "1320px",
    "sidebar_width": "230px",
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
html_show_sourcelink = False


def _hide_private_bases(app, name, obj, options, bases):
    """Private base classes (``_Source``) are not documented: show their public bases instead."""
    public = []
    for base in bases:
        if base.__name__.startswith("_"):
            public.extend(b for b in base.__bases__ if b is not object)
        else:
            public.append(base)
    bases[:] = public or [object]


def setup(app):
    app.connect("autodoc-process-bases", _hide_private_bases)
