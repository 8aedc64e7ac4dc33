"""Build real Python distributions (wheels and sdists) for tests, with the stdlib only."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tarfile
import zipfile
from pathlib import Path


def _dist_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def metadata_text(name: str, version: str, requires: tuple[str, ...] = (), requires_python: str | None = None,
                  summary: str = "", metadata_version: str = "2.1") -> str:
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {name}", f"Version: {version}",
             f"Summary: {summary or name + ' test package'}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    return "\n".join(lines) + "\n\n"


def build_wheel(dest: Path, name: str, version: str, requires: tuple[str, ...] = (),
                requires_python: str | None = None, module_code: str | None = None,
                metadata: str | None = None) -> Path:
    """A pure-Python ``py3-none-any`` wheel with one module ``<name>.py`` that defines VERSION."""
    dist = _dist_name(name)
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{dist}.py": (module_code or f"VERSION = {version!r}\n").encode(),
        f"{info}/METADATA": (metadata or metadata_text(name, version, requires, requires_python)).encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: packyard-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n\n",
    }
    record_lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record_lines.append(f"{path},sha256={digest},{len(data)}")
    record_lines.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record_lines) + "\n").encode()
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for p, data in files.items():
            zf.writestr(p, data)
    return path


def build_sdist(dest: Path, name: str, version: str, requires: tuple[str, ...] = (),
                metadata_version: str = "2.2") -> Path:
    """A ``.tar.gz`` sdist with PKG-INFO and a setup-free pyproject (enough for indexes, not for building)."""
    dist = _dist_name(name)
    root = f"{dist}-{version}"
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{root}.tar.gz"
    members = {
        f"{root}/PKG-INFO": metadata_text(name, version, requires, metadata_version=metadata_version).encode(),
        f"{root}/{dist}.py": f"VERSION = {version!r}\n".encode(),
    }
    with tarfile.open(path, "w:gz") as tf:
        for p, data in members.items():
            ti = tarfile.TarInfo(p)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return path
