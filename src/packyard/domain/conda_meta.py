"""Read a conda package's metadata once, at upload (``.tar.bz2`` and ``.conda``).

The whole archive is read (not just ``info/``) so that a truncated or corrupt payload is refused at upload
instead of failing on a user's machine at install time.
"""

from __future__ import annotations

import json
import tarfile
import zipfile
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from conda_package_streaming import package_streaming

from packyard.errors import InvalidInput

# Fields conda-index drops from index.json when it makes a repodata record (conda-index cache.py).
_NOT_IN_RECORD = frozenset(
    {"arch", "has_prefix", "mtime", "platform", "ucs", "requires_features", "binstar", "target-triplet",
     "machine", "operatingsystem"}
)
_MAX_JSON = 4 * 1024 * 1024  # index.json/about.json larger than this are refused
# What a damaged zstd member of a .conda raises (backports.zstd / compression.zstd).
_ZSTD_ERROR: type[Exception] = getattr(package_streaming.zstd, "ZstdError", RuntimeError)


@dataclass
class CondaArtifact:
    index: dict[str, Any]
    about: dict[str, Any] = field(default_factory=dict)
    has_prefix: bool = False

    @property
    def name(self) -> str:
        return str(self.index["name"])

    @property
    def version(self) -> str:
        return str(self.index["version"])

    @property
    def build(self) -> str:
        return str(self.index.get("build", ""))

    @property
    def subdir(self) -> str | None:
        sub = self.index.get("subdir")
        return str(sub) if sub else None

    def record(self, md5: str, sha256: str, size: int) -> dict[str, Any]:
        """The repodata record: index.json minus install-time fields, plus the archive's digests."""
        rec = {k: v for k, v in self.index.items() if k not in _NOT_IN_RECORD}
        rec.update(md5=md5, sha256=sha256, size=size)
        return rec


def _read_json(fh: BinaryIO | None, member: str) -> dict[str, Any]:
    if fh is None:
        raise InvalidInput(f"{member} is not a regular file")
    data = fh.read(_MAX_JSON + 1)
    if len(data) > _MAX_JSON:
        raise InvalidInput(f"{member} is larger than {_MAX_JSON} bytes")
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise InvalidInput(f"{member} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{member} must hold a JSON object")
    try:  # "\ud800" escapes decode to lone surrogates, which no UTF-8 column or document can hold
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise InvalidInput(f"{member} holds a string that is not valid Unicode (a lone surrogate)") from None
    return value


def read_conda_artifact(filename: str, fileobj: BinaryIO) -> CondaArtifact:
    """Parse and fully verify a conda archive. Raise ``InvalidInput`` with the reason when it is not one."""
    index: dict[str, Any] | None = None
    about: dict[str, Any] = {}
    has_prefix = False
    try:
        if filename.endswith(".conda"):
            with zipfile.ZipFile(fileobj) as zf:
                bad = zf.testzip()  # CRC of every member: catches corruption in the payload too
                if bad is not None:
                    raise InvalidInput(f"corrupt archive: member {bad} fails its checksum")
            fileobj.seek(0)
            members = package_streaming.stream_conda_info(filename, fileobj)
            read_all = False
        else:
            members = package_streaming.stream_conda_component(filename, fileobj)
            read_all = True
        for tar, member in members:
            name = member.name.lstrip("./")
            if name == "info/index.json":
                index = _read_json(tar.extractfile(member), name)
            elif name == "info/about.json":
                about = _read_json(tar.extractfile(member), name)
            elif name == "info/has_prefix":
                has_prefix = True
            elif read_all and member.isfile():
                fh = tar.extractfile(member)
                if fh is not None:  # decompress to verify; bz2 checks its own CRCs
                    while fh.read(1024 * 1024):
                        pass
        if not read_all:  # .conda: the payload is a member of its own; decompress it to verify it too
            fileobj.seek(0)
            for tar, member in package_streaming.stream_conda_component(filename, fileobj, "pkg"):
                fh = tar.extractfile(member) if member.isfile() else None
                while fh is not None and fh.read(1024 * 1024):
                    pass
    except InvalidInput:
        raise
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, ValueError, LookupError, RuntimeError,
            _ZSTD_ERROR) as exc:
        raise InvalidInput(f"corrupt or truncated conda archive: {exc or type(exc).__name__}") from None
    if index is None:
        raise InvalidInput("not a conda package: info/index.json is missing")
    for key in ("name", "version"):
        if not isinstance(index.get(key), str) or not index[key]:
            raise InvalidInput(f"info/index.json has no {key!r}")
    return CondaArtifact(index=index, about=about, has_prefix=has_prefix)


def longest_string(value: Any) -> int:
    """Length of the longest string anywhere in a JSON value (for the metadata size limit)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return max([longest_string(k) for k in value] + [longest_string(v) for v in value.values()], default=0)
    if isinstance(value, list):
        return max((longest_string(v) for v in value), default=0)
    return 0
