"""Read a Python distribution's core metadata once, at upload (wheels: ``*.dist-info/METADATA``; sdists:
``PKG-INFO``). Parsing and validation are ``packaging``'s; this module only finds the file and checks that
it agrees with the file name."""

from __future__ import annotations

import re
import tarfile
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from packaging.metadata import InvalidMetadata, Metadata
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from packyard.errors import InvalidInput

_MAX_METADATA = 4 * 1024 * 1024
SDIST_SUFFIXES = (".tar.gz", ".zip")


def normalize(name: str) -> str:
    """PEP 503 name: ``Foo_Bar``, ``foo.bar`` and ``foo-bar`` are one project."""
    return str(canonicalize_name(name))


def is_python_filename(filename: str) -> bool:
    return filename.endswith((".whl", *SDIST_SUFFIXES))


@dataclass(frozen=True)
class PythonArtifact:
    name: str  # as the metadata spells it
    version: str
    filetype: str  # bdist_wheel | sdist
    pyversion: str  # the wheel's python tag, or "source"
    requires_python: str | None
    summary: str | None
    description: str | None
    license: str | None
    home_page: str | None
    requires_dist: tuple[str, ...]
    metadata: bytes | None  # the core metadata file, served at <file>.metadata (PEP 658)


def _read_limited(fh: BinaryIO | None, what: str) -> bytes:
    if fh is None:
        raise InvalidInput(f"{what} is not a regular file")
    data = fh.read(_MAX_METADATA + 1)
    if len(data) > _MAX_METADATA:
        raise InvalidInput(f"{what} is larger than {_MAX_METADATA} bytes")
    return data


def _wheel_metadata(filename: str, fileobj: BinaryIO) -> bytes:
    name, version, _, _ = parse_wheel_filename(filename)
    with zipfile.ZipFile(fileobj) as zf:
        bad = zf.testzip()
        if bad is not None:
            raise InvalidInput(f"corrupt wheel: member {bad} fails its checksum")
        candidates = [n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
        if not candidates:
            raise InvalidInput("not a wheel: no *.dist-info/METADATA inside")
        with zf.open(candidates[0]) as fh:
            return _read_limited(fh, candidates[0])  # type: ignore[arg-type]


def _sdist_metadata(filename: str, fileobj: BinaryIO) -> bytes:
    parse_sdist_filename(filename)
    if filename.endswith(".zip"):
        with zipfile.ZipFile(fileobj) as zf:
            names = [n for n in zf.namelist() if re.fullmatch(r"[^/]+/PKG-INFO", n)]
            if not names:
                raise InvalidInput("not an sdist: no <name>-<version>/PKG-INFO inside")
            with zf.open(names[0]) as fh:
                return _read_limited(fh, names[0])  # type: ignore[arg-type]
    found: bytes | None = None
    with tarfile.open(fileobj=fileobj, mode="r|gz") as tf:
        for member in tf:  # read to the end: a truncated archive fails here, not at install time
            if found is None and member.isfile() and re.fullmatch(r"[^/]+/PKG-INFO", member.name):
                found = _read_limited(tf.extractfile(member), member.name)
    if found is None:
        raise InvalidInput("not an sdist: no <name>-<version>/PKG-INFO inside")
    return found


def read_python_artifact(filename: str, fileobj: BinaryIO) -> PythonArtifact:
    """Parse a wheel or sdist; raise ``InvalidInput`` saying why it is not acceptable."""
    if not is_python_filename(filename):
        raise InvalidInput(f"{filename!r} is not a wheel (.whl) or an sdist (.tar.gz, .zip)")
    is_wheel = filename.endswith(".whl")
    try:
        raw = _wheel_metadata(filename, fileobj) if is_wheel else _sdist_metadata(filename, fileobj)
    except InvalidInput:
        raise
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as exc:
        raise InvalidInput(f"invalid file name {filename!r}: {exc}") from None
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise InvalidInput(f"corrupt or truncated archive: {exc or type(exc).__name__}") from None
    try:
        meta = Metadata.from_email(raw, validate=True)
    except (InvalidMetadata, ExceptionGroup) as exc:  # packaging reports every problem at once
        problems = getattr(exc, "exceptions", [exc])
        raise InvalidInput(f"invalid metadata: {'; '.join(str(p) for p in problems)}") from None
    if is_wheel:
        fn_name, fn_version, _, tags = parse_wheel_filename(filename)
        pyversion = sorted({t.interpreter for t in tags})[0] if tags else "py3"
    else:
        fn_name, fn_version = parse_sdist_filename(filename)
        pyversion = "source"
    if canonicalize_name(meta.name) != fn_name:
        raise InvalidInput(f"file name {filename!r} does not match the metadata name {meta.name!r}")
    if fn_version != meta.version:
        raise InvalidInput(f"file name {filename!r} does not match the metadata version {meta.version}")
    # PEP 658 metadata is only promised for wheels, and for sdists with metadata 2.2+ (fields not dynamic).
    serve_metadata = is_wheel or Version(meta.metadata_version) >= Version("2.2")
    return PythonArtifact(
        name=meta.name,
        version=str(meta.version),
        filetype="bdist_wheel" if is_wheel else "sdist",
        pyversion=pyversion,
        requires_python=str(meta.requires_python) if meta.requires_python else None,
        summary=meta.summary,
        description=meta.description,
        license=meta.license,
        home_page=meta.home_page,
        requires_dist=tuple(str(r) for r in (meta.requires_dist or [])),
        metadata=raw if serve_metadata else None,
    )


def check_pep440(version: str) -> str:
    try:
        return str(Version(version))
    except InvalidVersion:
        raise InvalidInput(f"invalid version {version!r}: not a PEP 440 version") from None
