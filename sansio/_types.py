"""Type aliases of the public API that name no class of conch (httpx's ``_types``).

The aliases that name a class are defined beside it, so that no module here imports
upward, not even for the type checker: ``URLTypes``, ``QueryParamTypes`` and
``PrimitiveData`` in `sansio.urls`, ``HeaderTypes`` in `sansio.headers`, ``CookieTypes``
in `sansio.cookies`, ``TimeoutTypes`` and ``ProxyTypes`` in `sansio.config`,
``AuthTypes`` in `sansio.auth`.
`conch._types` gathers them all, as third-party code imports them from httpx.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from typing import IO, Any, Union

CertTypes = Union[str, tuple[str, str], tuple[str, str, str]]

RequestContent = Union[str, bytes, Iterable[bytes], AsyncIterable[bytes]]
ResponseContent = Union[str, bytes, Iterable[bytes], AsyncIterable[bytes]]
ResponseExtensions = Mapping[str, Any]
RequestExtensions = Mapping[str, Any]

RequestData = Mapping[str, Any]

FileContent = Union[IO[bytes], bytes, str]
FileTypes = Union[
    FileContent,
    tuple[Union[str, None], FileContent],
    tuple[Union[str, None], FileContent, Union[str, None]],
    tuple[Union[str, None], FileContent, Union[str, None], Mapping[str, str]],
]
RequestFiles = Union[Mapping[str, FileTypes], Sequence[tuple[str, FileTypes]]]
