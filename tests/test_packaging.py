"""What `pip install .` puts on disk: every package of the four, subpackages included.

(An editable install finds any subpackage, so the suite would not notice one missing
from a real install; the README's main job, a non-editable install, would.)
"""

from __future__ import annotations

import pathlib
import tomllib

from setuptools import find_packages

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOP = ("sansio", "io_common", "sync_io", "async_io", "conch")


def test_every_package_on_disk_is_installed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    installed = set(find_packages(where=str(ROOT), include=include))
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in TOP
        for init in (ROOT / top).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert "sansio.engine" in on_disk
    assert on_disk <= installed
    assert installed <= on_disk  # nothing else (tests, conformance, examples) ships
