"""Reading conda archives at upload (domain/conda_meta.py): both formats, the repodata record, and every
broken archive refused with ``InvalidInput`` (never another exception type, which would be a 500)."""

from __future__ import annotations

import bz2
import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
import zstandard

from packyard.domain.conda_meta import CondaArtifact, longest_string, read_conda_artifact
from packyard.errors import InvalidInput
from support.condapkg import PackageFormat, build_conda_package, corrupt_copy

FORMATS: tuple[PackageFormat, ...] = ("tar.bz2", "conda")

# What conda-index removes from index.json when it makes a record (spec §2.2).
INSTALL_TIME_FIELDS = (
    "arch",
    "has_prefix",
    "mtime",
    "platform",
    "ucs",
    "requires_features",
    "binstar",
    "target-triplet",
    "machine",
    "operatingsystem",
)


def read(path: Path) -> CondaArtifact:
    with open(path, "rb") as fh:
        return read_conda_artifact(path.name, fh)


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def write_tar_bz2(path: Path, members: dict[str, bytes]) -> Path:
    path.write_bytes(bz2.compress(_tar(members)))
    return path


def write_conda(path: Path, info: dict[str, bytes] | None, pkg: dict[str, bytes] | None = None) -> Path:
    stem = path.name[: -len(".conda")]
    cctx = zstandard.ZstdCompressor()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("metadata.json", json.dumps({"conda_pkg_format_version": 2}))
        zf.writestr(f"pkg-{stem}.tar.zst", cctx.compress(_tar(pkg or {"share/x": b"x"})))
        if info is not None:
            zf.writestr(f"info-{stem}.tar.zst", cctx.compress(_tar(info)))
    return path


def write_with_info(tmp_path: Path, fmt: PackageFormat, info: dict[str, bytes]) -> Path:
    if fmt == "conda":
        return write_conda(tmp_path / "bad-1.0-0.conda", info)
    return write_tar_bz2(tmp_path / "bad-1.0-0.tar.bz2", {**info, "share/x": b"x"})


# -- reading good packages


@pytest.mark.parametrize("fmt", FORMATS)
def test_reads_both_formats(tmp_path: Path, fmt: PackageFormat) -> None:
    pkg = build_conda_package(
        tmp_path,
        "hello-app",
        "0.1.0",
        build="py_1",
        build_number=1,
        subdir="linux-64",
        fmt=fmt,
        depends=["hello-lib >=1.0", "python >=3.8"],
        summary="Says hello",
        extra_index={"constrains": ["hello-extra <0.2"], "track_features": "feat1"},
    )
    art = read(pkg)
    assert (art.name, art.version, art.build, art.subdir) == ("hello-app", "0.1.0", "py_1", "linux-64")
    assert art.index["build_number"] == 1
    assert art.index["depends"] == ["hello-lib >=1.0", "python >=3.8"]
    assert art.index["constrains"] == ["hello-extra <0.2"]
    assert art.about["summary"] == "Says hello"
    assert art.has_prefix is False


def test_noarch_package(tmp_path: Path) -> None:
    art = read(build_conda_package(tmp_path, "tool", "2.0", fmt="conda"))
    assert art.subdir == "noarch"
    assert art.index["noarch"] == "generic"


def test_has_prefix_is_detected(tmp_path: Path) -> None:
    # In a .tar.bz2 the info/ files and the payload share one tar.
    pkg = build_conda_package(
        tmp_path,
        "pfx",
        "1.0",
        subdir="linux-64",
        files={"info/has_prefix": b"/opt/placeholder text bin/pfx\n", "bin/pfx": b"x"},
    )
    assert read(pkg).has_prefix is True


@pytest.mark.parametrize("fmt", FORMATS)
def test_record_drops_install_time_fields_and_adds_digests(tmp_path: Path, fmt: PackageFormat) -> None:
    extra = {
        "has_prefix": True,
        "mtime": 1700000000,
        "ucs": 4,
        "requires_features": {"a": "b"},
        "binstar": {"channel": "main"},
        "target-triplet": "x86_64-conda-linux-gnu",
        "machine": "x86_64",
        "operatingsystem": "linux",
        "constrains": ["c <2"],
        "track_features": "f",
        "features": "",
        "timestamp": 1700000000123,
        "license_family": "MIT",
        "python_site_packages_path": "lib/python3/sp",
    }
    pkg = build_conda_package(
        tmp_path,
        "rec",
        "1.2.3",
        build="h0_4",
        build_number=4,
        subdir="linux-64",
        depends=["zlib"],
        fmt=fmt,
        extra_index=extra,
    )
    art = read(pkg)
    assert art.index["arch"] == "x86_64" and art.index["platform"] == "linux"  # present in index.json ...
    data = pkg.read_bytes()
    md5, sha256 = hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()
    record = art.record(md5, sha256, len(data))
    for key in INSTALL_TIME_FIELDS:
        assert key not in record, key  # ... but not in the record
    assert record == {
        "name": "rec",
        "version": "1.2.3",
        "build": "h0_4",
        "build_number": 4,
        "depends": ["zlib"],
        "subdir": "linux-64",
        "license": "MIT",
        "timestamp": 1700000000123,
        "constrains": ["c <2"],
        "track_features": "f",
        "features": "",
        "license_family": "MIT",
        "python_site_packages_path": "lib/python3/sp",
        "md5": md5,
        "sha256": sha256,
        "size": len(data),
    }
    # The artifact's own index is left as it was.
    assert art.index["has_prefix"] is True


# -- broken archives


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_archive(tmp_path: Path, fmt: PackageFormat) -> None:
    good = build_conda_package(tmp_path / "good", "broken", "1.0", fmt=fmt)
    bad = corrupt_copy(good, tmp_path / "bad")
    with pytest.raises(InvalidInput, match="corrupt"):
        read(bad)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("keep", [0, 1, 10, 100])
def test_archive_cut_short(tmp_path: Path, fmt: PackageFormat, keep: int) -> None:
    good = build_conda_package(tmp_path, "short", "1.0", fmt=fmt)
    bad = tmp_path / "bad" / good.name
    bad.parent.mkdir()
    bad.write_bytes(good.read_bytes()[:keep])
    with pytest.raises(InvalidInput):
        read(bad)


@pytest.mark.parametrize("fmt", FORMATS)
def test_not_an_archive(tmp_path: Path, fmt: PackageFormat) -> None:
    bad = tmp_path / f"junk-1.0-0.{fmt}"
    bad.write_bytes(b"this is not a conda package\n" * 100)
    with pytest.raises(InvalidInput):
        read(bad)


def test_wrong_container_for_extension(tmp_path: Path) -> None:
    tar_bz2 = build_conda_package(tmp_path / "a", "swap", "1.0", fmt="tar.bz2")
    conda = build_conda_package(tmp_path / "b", "swap", "1.0", fmt="conda")
    (tmp_path / "c").mkdir()
    as_conda = tmp_path / "c" / "swap-1.0-0.conda"
    as_conda.write_bytes(tar_bz2.read_bytes())
    as_tar = tmp_path / "c" / "swap-1.0-0.tar.bz2"
    as_tar.write_bytes(conda.read_bytes())
    for path in (as_conda, as_tar):
        with pytest.raises(InvalidInput):
            read(path)


def test_corrupt_payload_in_conda_is_caught(tmp_path: Path) -> None:
    # The info/ part is fine; a byte inside the payload member is flipped (zip CRC mismatch).
    pkg = build_conda_package(tmp_path, "flip", "1.0", fmt="conda", files={"share/flip/data": b"A" * 4096})
    with zipfile.ZipFile(pkg) as zf:
        member = zf.getinfo("pkg-flip-1.0-0.tar.zst")
        offset = member.header_offset + 30 + len(member.filename.encode()) + len(member.extra) + 10
    data = bytearray(pkg.read_bytes())
    data[offset] ^= 0xFF
    pkg.write_bytes(bytes(data))
    with pytest.raises(InvalidInput, match="corrupt"):
        read(pkg)


def test_corrupt_payload_in_tar_bz2_is_caught(tmp_path: Path) -> None:
    # info/ comes first and is readable; the payload's bytes are damaged further on.
    payload = bytes(range(256)) * 2000
    raw = _tar(
        {
            "info/index.json": json.dumps({"name": "flip", "version": "1.0", "build": "0"}).encode(),
            "share/flip/data": payload,
        }
    )
    compressed = bytearray(bz2.compress(raw))
    compressed[len(compressed) * 3 // 4] ^= 0xFF
    bad = tmp_path / "flip-1.0-0.tar.bz2"
    bad.write_bytes(bytes(compressed))
    with pytest.raises(InvalidInput):
        read(bad)


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_index_json(tmp_path: Path, fmt: PackageFormat) -> None:
    pkg = build_conda_package(tmp_path, "noindex", "1.0", fmt=fmt, omit_index=True)
    with pytest.raises(InvalidInput, match="info/index.json is missing"):
        read(pkg)


def test_conda_without_info_member(tmp_path: Path) -> None:
    pkg = write_conda(tmp_path / "noinfo-1.0-0.conda", info=None)
    with pytest.raises(InvalidInput):
        read(pkg)


GOOD_INDEX = json.dumps({"name": "odd", "version": "1.0", "build": "0"}).encode()


def _conda_with_members(path: Path, members: dict[str, bytes]) -> Path:
    """A .conda zip with exactly these members (their zip CRCs are right: only the contents are wrong)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("metadata.json", json.dumps({"conda_pkg_format_version": 2}))
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_conda_info_member_that_is_not_zstd(tmp_path: Path) -> None:
    pkg = _conda_with_members(
        tmp_path / "odd-1.0-0.conda",
        {
            "pkg-odd-1.0-0.tar.zst": zstandard.ZstdCompressor().compress(_tar({"share/x": b"x"})),
            "info-odd-1.0-0.tar.zst": b"not zstd at all",
        },
    )
    with pytest.raises(InvalidInput, match="corrupt"):
        read(pkg)


@pytest.mark.parametrize(
    "pkg_member",
    [b"not zstd at all", zstandard.ZstdCompressor().compress(b"not a tar" * 200), None],
    ids=["not-zstd", "zstd-but-not-tar", "missing"],
)
def test_conda_payload_that_cannot_be_installed(tmp_path: Path, pkg_member: bytes | None) -> None:
    # info/ is fine, so only reading the payload too finds out that the package could never be installed.
    members = {
        "info-odd-1.0-0.tar.zst": zstandard.ZstdCompressor().compress(_tar({"info/index.json": GOOD_INDEX}))
    }
    if pkg_member is not None:
        members["pkg-odd-1.0-0.tar.zst"] = pkg_member
    pkg = _conda_with_members(tmp_path / "odd-1.0-0.conda", members)
    with pytest.raises(InvalidInput, match="corrupt"):
        read(pkg)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("index", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe garbage", "not valid JSON"),
        (b'["a list"]', "must hold a JSON object"),
        (b'"a string"', "must hold a JSON object"),
        (b'{"version": "1.0"}', "has no 'name'"),
        (b'{"name": "bad"}', "has no 'version'"),
        (b'{"name": "", "version": "1.0"}', "has no 'name'"),
        (b'{"name": "bad", "version": 1.0}', "has no 'version'"),
        # JSON escapes for a lone surrogate: valid JSON, but no UTF-8 document or database column can hold it.
        (b'{"name": "bad", "version": "1.0", "license": "\\ud800"}', "not valid Unicode"),
        (b'{"name": "bad", "version": "1.0", "depends": ["x \\udfff"]}', "not valid Unicode"),
    ],
)
def test_bad_index_json(tmp_path: Path, fmt: PackageFormat, index: bytes, message: str) -> None:
    pkg = write_with_info(tmp_path, fmt, {"info/index.json": index})
    with pytest.raises(InvalidInput, match=message):
        read(pkg)


@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_about_json(tmp_path: Path, fmt: PackageFormat) -> None:
    index = json.dumps({"name": "bad", "version": "1.0", "build": "0"}).encode()
    pkg = write_with_info(tmp_path, fmt, {"info/index.json": index, "info/about.json": b"[1, 2"})
    with pytest.raises(InvalidInput, match="info/about.json is not valid JSON"):
        read(pkg)
    pkg.unlink()
    pkg = write_with_info(
        tmp_path, fmt, {"info/index.json": index, "info/about.json": b'{"summary": "\\ud800"}'}
    )
    with pytest.raises(InvalidInput, match="info/about.json holds a string that is not valid Unicode"):
        read(pkg)


def test_oversized_index_json(tmp_path: Path) -> None:
    index = json.dumps({"name": "big", "version": "1.0", "pad": "x" * (4 * 1024 * 1024)}).encode()
    pkg = write_conda(tmp_path / "big-1.0-0.conda", {"info/index.json": index})
    with pytest.raises(InvalidInput, match="larger than"):
        read(pkg)


def test_longest_string() -> None:
    value: Any = {"a": ["xx", {"yyy": 1, "k" * 5: None}], "b": 3.5}
    assert longest_string(value) == 5
    assert longest_string(None) == 0 and longest_string([]) == 0 and longest_string("abcd") == 4
