"""
Packaging: a function folder zipped into a Lambda package, reproducibly (equal code, equal bytes, equal
``CodeSha256``), with the runtime part of this ``sosw`` and the folder's requirements.
"""

import base64
import hashlib
import io
import logging
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Collection, Iterator, List, Sequence, Tuple

from sosw.deploy.constants import BUILD_TIME_PARTS, NOT_PACKAGED
from sosw.deploy.exceptions import DeployError
from sosw.deploy.types import PathLike

__all__ = ["build_package", "code_sha256", "requirements_of"]

logger = logging.getLogger(__name__)

_SOSW_DIR = Path(__file__).resolve().parents[1]
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

#: Requirement lines naming this package. The package index's ``sosw`` is the original project, another code base:
#: packages get this one, copied, never that one.
_OWN_NAME = re.compile(r"^sosw(?![\w.-])", re.IGNORECASE)
_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:>=\s*(?P<floor>[0-9][0-9.]*))?\s*$")


def _is_build_time(relative: Path) -> bool:
    return relative.parts[0] in BUILD_TIME_PARTS


def _walk(root: Path, skip: Callable[[Path], bool]) -> Iterator[Tuple[Path, str]]:
    """Files under ``root`` as (path, archive name), sorted, without caches and what ``skip`` rejects."""
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or "__pycache__" in relative.parts or path.suffix == ".pyc" or skip(relative):
            continue
        yield path, relative.as_posix()


def _zip(entries: Sequence[Tuple[Path, str]]) -> bytes:
    """A zip whose bytes depend on the files' names and contents only, so that equal code gives an equal hash."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in sorted(entries, key=lambda entry: entry[1]):
            info = zipfile.ZipInfo(name, _ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def requirements_of(folder: PathLike) -> List[str]:
    """The requirement lines of a function folder's ``requirements.txt`` but the ones naming ``sosw``.

    :param folder: The function folder.
    :return: The lines, without comments and blanks; none when there is no file.

    .. code-block:: python

        requirements_of("examples/essentials/sosw_scheduler")  # e.g. ['boto3>=1.35.2']
    """
    path = Path(folder) / "requirements.txt"
    if not path.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not _OWN_NAME.match(line)]


def _version_tuple(version: str) -> Tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:4])


def _installed_files(requirement: str, folder: Path) -> Iterator[Tuple[Path, str]]:
    """The files of an installed distribution that satisfies ``name`` or ``name>=version``, with its metadata (so
    that ``importlib.metadata`` in the Lambda sees the version it runs)."""
    from importlib import metadata

    match = _REQUIREMENT.match(requirement)
    if not match:
        raise DeployError(f"{folder / 'requirements.txt'}: {requirement!r} is not 'name' or 'name>=version'; "
                          f"use --pip for it")
    try:
        distribution = metadata.distribution(match["name"])
    except metadata.PackageNotFoundError:
        raise DeployError(f"{folder / 'requirements.txt'}: {match['name']} is not installed here; install it or use "
                          f"--pip") from None
    if match["floor"] and _version_tuple(distribution.version) < _version_tuple(match["floor"]):
        raise DeployError(f"{folder / 'requirements.txt'}: {requirement} but {distribution.version} is installed")
    for file in distribution.files or ():
        path = Path(str(distribution.locate_file(file)))
        if ".." in file.parts or "__pycache__" in file.parts or file.suffix == ".pyc" or not path.is_file():
            continue  # scripts and caches: nothing a handler imports
        yield path, file.as_posix()


def _pip_install(requirements: List[str], folder: Path, target: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(target), *requirements]
    logger.debug("Running %s", cmd)
    try:
        subprocess.run(cmd, check=True)
    except subprocess.CalledProcessError as err:
        message = f"pip install of {folder / 'requirements.txt'} failed with exit code {err.returncode}"
        raise DeployError(message) from err


def build_package(source: PathLike, exclude: Collection[str] = (), pip: bool = False) -> bytes:
    """Zip a function folder into a Lambda package, reproducibly.

    The package holds the folder's files (but ``config/``, ``tests/`` and ``conftest.py``), the runtime part of the
    ``sosw`` package this module belongs to (without :data:`~sosw.deploy.constants.BUILD_TIME_PARTS`), and what the
    folder's ``requirements.txt`` names besides ``sosw``: copied from this environment (``name`` or ``name>=version``
    lines, checked), or with ``pip`` installed by ``pip install --target``. A ``sosw`` line is never installed: the
    package index's ``sosw`` is the original project, and the package gets this one.

    :param source: The function folder.
    :param exclude: Top-level file names of the folder to leave out (its CloudFormation template).
    :param pip: Install the requirements with pip instead of copying them from this environment.
    :return: The zip file's bytes.
    :raises DeployError: When a requirement is not met here, or pip fails.

    .. code-block:: python

        package = build_package("examples/essentials/sosw_orchestrator", exclude={"sosw-orchestrator.yaml"})
    """
    folder = Path(source)
    entries = list(_walk(folder, lambda rel: rel.parts[0] in NOT_PACKAGED or (len(rel.parts) == 1
                                                                                and rel.name in exclude)))
    entries += [(path, f"sosw/{name}") for path, name in _walk(_SOSW_DIR, _is_build_time)]
    requirements = requirements_of(folder)
    own = {name for _path, name in entries}
    if not pip:
        for requirement in requirements:
            entries += [(p, n) for p, n in _installed_files(requirement, folder) if n not in own]
        return _zip(entries)
    with tempfile.TemporaryDirectory(prefix="sosw-package-") as target:
        if requirements:
            _pip_install(requirements, folder, Path(target))
        entries += [(p, n) for p, n in _walk(Path(target), lambda rel: False) if n not in own]
        return _zip(entries)


def code_sha256(package: bytes) -> str:
    """The ``CodeSha256`` Lambda reports for a function running ``package``.

    :param package: The zip file's bytes.
    :return: Base64 of the SHA-256 digest.

    .. code-block:: python

        assert code_sha256(package) == lambda_client.get_function_configuration(FunctionName=name)["CodeSha256"]
    """
    return base64.b64encode(hashlib.sha256(package).digest()).decode()
