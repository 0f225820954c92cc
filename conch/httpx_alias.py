"""Importing this module makes ``import httpx`` give conch (see `conch.alias_httpx`).

For a test suite: ``pytest -p conch.httpx_alias`` (the plugin loads before other
plugins and before any test imports httpx). For a whole program or environment: a
``sitecustomize.py`` holding ``import conch.httpx_alias``.
"""

from ._alias import alias_httpx

alias_httpx()
