from __future__ import annotations

import pathlib

import pytest

import conch
from sansio.models import Request


def _authorization(auth: conch.NetRCAuth, url: str) -> str | None:
    flow = auth.auth_flow(Request("GET", url))
    return next(flow).headers.get("authorization")


def test_reads_the_given_file(tmp_path: pathlib.Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine example.org login alice password s3cret\n")
    auth = conch.NetRCAuth(str(netrc))
    assert _authorization(auth, "https://example.org/") == "Basic YWxpY2U6czNjcmV0"
    assert _authorization(auth, "https://other.org/") is None


def test_defaults_to_netrc_environment_variable(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("default login bob password pw\n")
    monkeypatch.setenv("NETRC", str(netrc))
    assert _authorization(conch.NetRCAuth(), "http://any.host/") == "Basic Ym9iOnB3"


def test_missing_file_raises(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError):
        conch.NetRCAuth(str(tmp_path / "absent"))
