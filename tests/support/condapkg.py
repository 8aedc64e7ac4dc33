"""Build real conda packages (.tar.bz2 and .conda, CEP 35) with the stdlib and zstandard only."""

from __future__ import annotations

import bz2
import hashlib
import io
import json
import tarfile
import time
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import zstandard

PackageFormat = Literal["tar.bz2", "conda"]

# subdir -> (platform, arch) as conda-build writes them into index.json
_SUBDIR_PLATFORM: dict[str, tuple[str, str]] = {
    "linux-64": ("linux", "x86_64"),
    "linux-aarch64": ("linux", "aarch64"),
    "linux-ppc64le": ("linux", "ppc64le"),
    "linux-32": ("linux", "x86"),
    "osx-64": ("osx", "x86_64"),
    "osx-arm64": ("osx", "arm64"),
    "win-64": ("win", "x86_64"),
    "win-32": ("win", "x86"),
}


def package_filename(name: str, version: str, build: str = "0", fmt: PackageFormat = "tar.bz2") -> str:
    return f"{name}-{version}-{build}.{fmt}"


def _platform_arch(subdir: str) -> tuple[str | None, str | None]:
    if subdir == "noarch":
        return None, None
    if subdir in _SUBDIR_PLATFORM:
        return _SUBDIR_PLATFORM[subdir]
    platform, _, arch = subdir.partition("-")
    return platform, arch


def _tar_bytes(members: Iterable[tuple[str, bytes]], mtime: int) -> bytes:
    """An uncompressed tar with anonymised owners (like conda-package-handling writes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in members:
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = mtime
            info.mode = 0o755 if path.startswith("bin/") else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build_conda_package(
    dest_dir: Path | str,
    name: str,
    version: str,
    build: str = "0",
    build_number: int = 0,
    subdir: str = "noarch",
    depends: Iterable[str] = (),
    fmt: PackageFormat = "tar.bz2",
    summary: str | None = None,
    license: str = "MIT",
    extra_index: Mapping[str, Any] | None = None,
    files: Mapping[str, bytes] | None = None,
    omit_index: bool = False,
) -> Path:
    """Write ``<dest_dir>/<name>-<version>-<build>.<fmt>`` and return its path.

    ``extra_index`` keys are merged over the generated index.json (e.g. ``constrains``,
    ``track_features``, ``timestamp``). ``files`` replaces the default payload
    ``share/<name>/VERSION``. ``omit_index=True`` leaves out info/index.json (a broken package).
    """
    if fmt not in ("tar.bz2", "conda"):
        raise ValueError(f"unknown package format {fmt!r}")
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)

    payload: dict[str, bytes] = (
        dict(files) if files is not None else {f"share/{name}/VERSION": f"{version}\n".encode()}
    )
    timestamp_ms = int(time.time() * 1000)
    platform, arch = _platform_arch(subdir)
    index: dict[str, Any] = {
        "name": name,
        "version": version,
        "build": build,
        "build_number": build_number,
        "depends": list(depends),
        "subdir": subdir,
        "license": license,
        "timestamp": timestamp_ms,
        "arch": arch,
        "platform": platform,
    }
    if subdir == "noarch":
        index["noarch"] = "generic"
    if extra_index:
        index.update(extra_index)

    summary = summary if summary is not None else f"{name} test package"
    about = {
        "summary": summary,
        "description": f"{summary} (long description)",
        "license": license,
        "home": f"https://example.invalid/{name}",
    }
    paths = {
        "paths": [
            {
                "_path": path,
                "path_type": "hardlink",
                "sha256": hashlib.sha256(data).hexdigest(),
                "size_in_bytes": len(data),
            }
            for path, data in sorted(payload.items())
        ],
        "paths_version": 1,
    }

    info: dict[str, bytes] = {}
    if not omit_index:
        info["info/index.json"] = json.dumps(index, indent=2, sort_keys=True).encode()
    info["info/about.json"] = json.dumps(about, indent=2, sort_keys=True).encode()
    info["info/paths.json"] = json.dumps(paths, indent=2, sort_keys=True).encode()
    info["info/files"] = "".join(f"{p}\n" for p in sorted(payload)).encode()

    mtime = timestamp_ms // 1000
    out = dest / package_filename(name, version, build, fmt)
    if fmt == "tar.bz2":
        # info/ first, as conda-build does, so readers can stop early.
        out.write_bytes(bz2.compress(_tar_bytes([*info.items(), *sorted(payload.items())], mtime)))
    else:
        stem = f"{name}-{version}-{build}"
        cctx = zstandard.ZstdCompressor(level=3)
        pkg_zst = cctx.compress(_tar_bytes(sorted(payload.items()), mtime))
        info_zst = cctx.compress(_tar_bytes(info.items(), mtime))
        # Member order as conda-package-handling writes it: metadata.json, pkg-, info-.
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("metadata.json", json.dumps({"conda_pkg_format_version": 2}))
            zf.writestr(f"pkg-{stem}.tar.zst", pkg_zst)
            zf.writestr(f"info-{stem}.tar.zst", info_zst)
    return out


def corrupt_copy(path: Path | str, dest: Path | str) -> Path:
    """Copy ``path`` into directory ``dest`` under the same file name, cut off at half its size."""
    src = Path(path)
    dest_dir = Path(dest)
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / src.name
    if out.resolve() == src.resolve():
        raise ValueError("dest must be a different directory than the source file's")
    data = src.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out


def read_index_json(path: Path | str) -> dict[str, Any]:
    """info/index.json of a package, read with conda_package_streaming (raises KeyError if absent)."""
    from conda_package_streaming.package_streaming import stream_conda_info

    for tar, member in stream_conda_info(str(path)):
        if member.name == "info/index.json":
            fileobj = tar.extractfile(member)
            assert fileobj is not None
            return json.loads(fileobj.read())
    raise KeyError(f"info/index.json not found in {path}")


def sha256_file(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def md5_file(path: Path | str) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()
