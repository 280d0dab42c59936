"""
``sosw init NAME``: a Worker project that passes its own tests at once and deploys with ``sosw deploy --worker NAME``.

The files come from ``sosw/_templates/worker``, where ``__worker_name__`` and ``__worker-name__`` stand for the name
and its dashed form (the stack name) in file names and contents. Build-time code: nothing here ships in a Lambda.

.. code-block:: python

    from sosw.scaffold import init_worker

    project = init_worker("my_worker")  # ./my_worker/app.py, my_worker/my-worker.yaml, config/, tests/
"""

import re
from pathlib import Path
from typing import Optional, Union

from sosw.exceptions import SoswError

__all__ = ["ScaffoldError", "TEMPLATE_DIR", "init_worker", "validate_name"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "_templates" / "worker"
NAME_PLACEHOLDER = "__worker_name__"
DASHED_PLACEHOLDER = "__worker-name__"
# The name is the function's, the folder's and (dashed) the stack's; the role is NAME_role, 64 characters at most.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,58}")


class ScaffoldError(SoswError):
    """The project cannot be made: a bad name, or a folder that exists."""


def validate_name(name: str) -> str:
    """The name, if it can name a function, its folder and its stack.

    :param name: The Worker's name.
    :raises ScaffoldError: Naming the rule the name breaks.
    """
    if not _NAME.fullmatch(name):
        raise ScaffoldError(f"NAME: {name!r} must start with a lowercase letter and have only lowercase letters, "
                            f"digits and underscores, 59 characters at most (it names the function and its role)")
    return name


def _render(text: str, name: str) -> str:
    return text.replace(NAME_PLACEHOLDER, name).replace(DASHED_PLACEHOLDER, name.replace("_", "-"))


def init_worker(name: str, parent: Optional[Union[str, Path]] = None) -> Path:
    """Write the Worker project ``parent/name``.

    :param name: The Worker's name (see :func:`validate_name`).
    :param parent: Where to create the project folder; the current directory by default.
    :return: The project folder.
    :raises ScaffoldError: When the name is invalid or the folder exists and is not empty.
    """
    validate_name(name)
    project = Path(parent or Path.cwd()) / name
    if project.exists() and any(project.iterdir()):
        raise ScaffoldError(f"NAME: {project} exists and is not empty")
    for source in sorted(TEMPLATE_DIR.rglob("*")):
        relative = source.relative_to(TEMPLATE_DIR)
        if not source.is_file() or "__pycache__" in relative.parts or source.suffix == ".pyc":
            continue
        target = project / _render(relative.as_posix(), name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_render(source.read_text(encoding="utf-8"), name), encoding="utf-8")
    return project
