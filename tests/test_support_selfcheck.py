"""Fast checks of the test-support package builders (no server needed)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from conda_package_handling import api as cph_api
from conda_package_streaming.package_streaming import stream_conda_component, stream_conda_info

from support.condapkg import PackageFormat, build_conda_package, corrupt_copy, read_index_json

FORMATS: tuple[PackageFormat, ...] = ("tar.bz2", "conda")


def _member_names(path: Path, component: str = "info") -> list[str]:
    return [m.name for _, m in stream_conda_component(str(path), component=component)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_build_and_read_back(tmp_path: Path, fmt: PackageFormat) -> None:
    pkg = build_conda_package(
        tmp_path, "hello-app", "0.1.0", build="py_1", build_number=1, subdir="linux-64",
        depends=["hello-lib >=1.0", "zlib"], fmt=fmt, extra_index={"constrains": ["hello-extra <0.2"]},
    )  # fmt: skip
    assert pkg.name == f"hello-app-0.1.0-py_1.{fmt}"

    index = read_index_json(pkg)
    assert (index["name"], index["version"], index["build"], index["build_number"]) == (
        "hello-app", "0.1.0", "py_1", 1,
    )  # fmt: skip
    assert index["depends"] == ["hello-lib >=1.0", "zlib"]
    assert (index["subdir"], index["platform"], index["arch"]) == ("linux-64", "linux", "x86_64")
    assert index["constrains"] == ["hello-extra <0.2"]
    assert "noarch" not in index

    info = _member_names(pkg)
    assert {"info/index.json", "info/about.json", "info/paths.json", "info/files"} <= set(info)
    # For .tar.bz2 the "pkg" component is the whole archive; for .conda only the payload.
    assert "share/hello-app/VERSION" in _member_names(pkg, "pkg")

    out = tmp_path / "extracted"
    cph_api.extract(str(pkg), dest_dir=str(out))
    assert (out / "share/hello-app/VERSION").read_text() == "0.1.0\n"
    paths = json.loads((out / "info/paths.json").read_text())
    assert paths["paths_version"] == 1
    assert paths["paths"][0]["_path"] == "share/hello-app/VERSION"
    assert paths["paths"][0]["size_in_bytes"] == len("0.1.0\n")
    assert json.loads((out / "info/about.json").read_text())["summary"]


def test_noarch_and_custom_files(tmp_path: Path) -> None:
    pkg = build_conda_package(tmp_path, "tool", "2.0", fmt="conda", files={"bin/tool": b"#!/bin/sh\n"})
    index = read_index_json(pkg)
    assert (index["subdir"], index["noarch"], index["arch"], index["platform"]) == (
        "noarch", "generic", None, None,
    )  # fmt: skip
    assert _member_names(pkg, "pkg") == ["bin/tool"]
    with zipfile.ZipFile(pkg) as zf:
        assert [i.filename for i in zf.infolist()] == [
            "metadata.json", "pkg-tool-2.0-0.tar.zst", "info-tool-2.0-0.tar.zst",
        ]  # fmt: skip
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        assert json.loads(zf.read("metadata.json")) == {"conda_pkg_format_version": 2}


@pytest.mark.parametrize("fmt", FORMATS)
def test_corrupt_copy_is_unreadable(tmp_path: Path, fmt: PackageFormat) -> None:
    good = build_conda_package(tmp_path / "good", "broken", "1.0", fmt=fmt)
    bad = corrupt_copy(good, tmp_path / "bad")
    assert bad.name == good.name
    assert 0 < bad.stat().st_size < good.stat().st_size
    with pytest.raises(Exception):
        list(stream_conda_info(str(bad)))


@pytest.mark.parametrize("fmt", FORMATS)
def test_omit_index(tmp_path: Path, fmt: PackageFormat) -> None:
    pkg = build_conda_package(tmp_path, "noindex", "1.0", fmt=fmt, omit_index=True)
    names = _member_names(pkg)
    assert "info/index.json" not in names
    assert "info/about.json" in names
    with pytest.raises(KeyError):
        read_index_json(pkg)
