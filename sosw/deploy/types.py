"""Type aliases of the deployer's signatures."""

from pathlib import Path
from typing import Any, Callable, Union

#: A folder or file, as a string or a path.
PathLike = Union[str, Path]
#: Receives one report line per stack and per notable step (``print`` by default).
Log = Callable[[str], Any]
