"""
Discovery: the CloudFormation stacks of an examples directory, in deployment order, and the function each packages.

The examples directory has this layout (file names are the stack names; function folders are function names)::

    yaml/initial/*.yaml                         shared resources; sosw-s3-bucket.yaml is deployed first
    essentials/<function>/<dashed-function>.yaml + app.py + requirements.txt
    essentials/.config/<config_name>.json       config rows of the Essentials
    yaml/*.yaml                                 the scheduled rules
    workers/<function>/<dashed-function>.yaml   + app.py, requirements.txt, config/{labourer,self,task}.json
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Iterator, List, Optional, Sequence

from sosw.deploy.constants import BUCKET_STACK, TIERS
from sosw.deploy.exceptions import DeployError
from sosw.deploy.types import PathLike

__all__ = ["Stack", "default_examples_dir", "discover_stacks"]

_SOSW_DIR = Path(__file__).resolve().parents[1]


def default_examples_dir() -> Path:
    """The examples this sosw was installed with: ``sosw/_examples`` in a wheel or an sdist, the top-level
    ``examples`` folder in a checkout (where the packaging takes them from).

    :raises DeployError: When neither exists (a broken install).

    .. code-block:: python

        stacks = discover_stacks(default_examples_dir())
    """
    for candidate in (_SOSW_DIR / "_examples", _SOSW_DIR.parent / "examples"):
        if (candidate / "essentials").is_dir():
            return candidate
    raise DeployError(f"no examples with essentials/ in {_SOSW_DIR / '_examples'}: reinstall sosw")


@dataclass(frozen=True)
class Stack:
    """A CloudFormation stack of the examples, and the function it packages (if any).

    :param name: Stack name: the template file name without ``.yaml``.
    :param template: Path of the template.
    :param tier: One of :data:`~sosw.deploy.constants.TIERS`.
    :param function: Name of the Lambda function built from ``source``.
    :param source: Folder whose files make the function's package.

    .. code-block:: python

        topics = Stack("sosw-sns-topics", Path("examples/yaml/initial/sosw-sns-topics.yaml"), "initial")
    """

    name: str
    template: Path
    tier: str
    function: Optional[str] = None
    source: Optional[Path] = None


def _function_stack(source: Path, tier: str) -> Optional[Stack]:
    """The stack of a function folder: its template is ``<dashed-folder-name>.yaml``."""
    dashed = source.name.replace("_", "-")
    template = source / f"{dashed}.yaml"
    return Stack(dashed, template, tier, function=source.name, source=source) if template.is_file() else None


def _function_stacks(folder: Path, tier: str, names: Optional[Collection[str]] = None) -> Iterator[Stack]:
    if not folder.is_dir():
        return
    for source in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        if names is not None and source.name not in names:
            continue
        stack = _function_stack(source, tier)
        if stack:
            yield stack
        elif names is not None:
            raise DeployError(f"{source} has no template {source.name.replace('_', '-')}.yaml")


def discover_stacks(
    examples_dir: PathLike, workers: Optional[Collection[str]] = (), worker_dirs: Sequence[PathLike] = ()
) -> List[Stack]:
    """Every stack of the examples directory, in deployment order (see :data:`~sosw.deploy.constants.TIERS`).

    :param examples_dir: The ``examples`` directory.
    :param workers: Worker folders under ``workers/`` (or among ``worker_dirs``) to include; ``None`` includes all.
    :param worker_dirs: Worker folders outside the examples (a project of ``sosw init``): the folder's name is the
        function's; they win over a Worker of the same name under ``workers/``.
    :return: The stacks, bucket first.
    :raises DeployError: When a named Worker has no folder or no template.

    .. code-block:: python

        names = [s.name for s in discover_stacks("examples", workers=["sosw_tutorial_pull_tweeter_hashtags"])]
    """
    root = Path(examples_dir)
    stacks = [
        Stack(p.stem, p, "bucket" if p.stem == BUCKET_STACK else "initial")
        for p in sorted((root / "yaml" / "initial").glob("*.yaml"))
    ]
    stacks.extend(_function_stacks(root / "essentials", "essentials"))
    stacks.extend(Stack(p.stem, p, "rules") for p in sorted((root / "yaml").glob("*.yaml")))
    outside = {}
    for folder in map(Path, worker_dirs):
        stack = _function_stack(folder.resolve(), "workers")
        if stack is None:
            raise DeployError(f"{folder} has no template {folder.resolve().name.replace('_', '-')}.yaml")
        outside[stack.function] = stack
    wanted = None if workers is None else set(workers) - set(outside)
    found = [s for s in _function_stacks(root / "workers", "workers", wanted) if s.function not in outside]
    found += [s for name, s in sorted(outside.items()) if workers is None or name in workers]
    missing = set(workers or ()) - {s.function for s in found}
    if missing:
        raise DeployError(f"no Worker folder under {root / 'workers'} for {', '.join(sorted(missing))}")
    stacks.extend(found)
    return sorted(stacks, key=lambda s: TIERS.index(s.tier))
