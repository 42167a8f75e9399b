"""Directories shipped inside Python packages (package data), found the way an installed wheel
has them: through :mod:`importlib.resources`, never through a checkout's layout."""

from __future__ import annotations

import contextlib
import importlib.resources
import tempfile
from collections.abc import Iterator
from importlib.resources.abc import Traversable
from pathlib import Path


@contextlib.contextmanager
def package_dir(package: str, *parts: str) -> Iterator[Path]:
    """The directory ``parts`` inside ``package``, as a real directory while the block runs.

    Compilers take file-system paths. An installed (or editable) package's data already is a
    directory and is used in place; a package imported from a zip archive has its directory
    copied out to a temporary one, removed afterwards. (Python 3.12's ``as_file`` does this for
    directories; 3.11's handles only files.)

    :raises FileNotFoundError: if ``package`` has no such directory.
    """
    root = importlib.resources.files(package).joinpath(*parts)
    if not root.is_dir():
        raise FileNotFoundError(f"package {package} has no directory {'/'.join(parts)}")
    if isinstance(root, Path):
        yield root
        return
    with tempfile.TemporaryDirectory(prefix="supervm-package-data-") as tmp:
        copy = Path(tmp) / root.name
        _copy_tree(root, copy)
        yield copy


def _copy_tree(source: Traversable, dest: Path) -> None:
    dest.mkdir()
    for child in source.iterdir():
        if child.is_dir():
            _copy_tree(child, dest / child.name)
        else:
            (dest / child.name).write_bytes(child.read_bytes())
