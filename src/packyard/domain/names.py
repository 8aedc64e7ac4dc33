"""Name rules for owners, packages, labels, subdirs and uploaded basenames (pure functions).

Each ``check_*`` returns the accepted value or raises ``InvalidInput`` with a message that says what is
wrong, so every adapter reports the same words.
"""

from __future__ import annotations

import re

from packyard.errors import InvalidInput

# conda's KNOWN_SUBDIRS (conda 26.7, conda/base/constants.py PLATFORMS) plus noarch.
KNOWN_SUBDIRS = frozenset(
    """noarch emscripten-wasm32 wasi-wasm32 freebsd-64 linux-32 linux-64 linux-aarch64 linux-armv6l
    linux-armv7l linux-ppc64 linux-ppc64le linux-riscv64 linux-s390x osx-64 osx-arm64 win-32 win-64
    win-arm64 zos-z""".split()
)
CONDA_EXTENSIONS = (".tar.bz2", ".conda")

_LOGIN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}[a-z0-9_]$|^[a-z0-9]$")
_PACKAGE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,199}$")
_CONDA_NAME = re.compile(r"^[a-z0-9_][a-z0-9_.+-]*$")
_LABEL = re.compile(r"^[a-zA-Z][0-9a-zA-Z_\-.]{0,127}$")
_VERSION = re.compile(r"^[A-Za-z0-9_.+!*-]{1,200}$")
_RESERVED_LOGINS = frozenset({"api", "conda", "pypi", "t", "static", "files", "label", "admin", "login"})


def check_login(login: str) -> str:
    value = login.lower()
    if not _LOGIN.fullmatch(value) or value in _RESERVED_LOGINS:
        raise InvalidInput(
            f"invalid name {login!r}: use 1-64 lower-case letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return value


def check_package_name(name: str) -> str:
    if not _PACKAGE.fullmatch(name):
        raise InvalidInput(
            f"invalid package name {name!r}: use letters, digits, '_', '-', '.', '+' (at most 200)"
        )
    return name


def check_version(version: str) -> str:
    if not _VERSION.fullmatch(version):
        raise InvalidInput(f"invalid version {version!r}")
    return version


def check_label(label: str) -> str:
    if not _LABEL.fullmatch(label):
        raise InvalidInput(
            f"invalid label {label!r}: start with a letter; then letters, digits, '_', '-' or '.'"
        )
    return label


def check_subdir(subdir: str) -> str:
    if subdir not in KNOWN_SUBDIRS:
        raise InvalidInput(f"unknown subdir {subdir!r}; known subdirs: {', '.join(sorted(KNOWN_SUBDIRS))}")
    return subdir


def check_basename(basename: str) -> str:
    """Refuse anything that could escape a folder or confuse a client: traversal, backslashes,
    absolute paths, control characters, empty segments."""
    if not basename or len(basename) > 300:
        raise InvalidInput("invalid file name: empty or longer than 300 characters")
    if "\\" in basename or basename.startswith("/") or any(ord(c) < 32 or ord(c) == 127 for c in basename):
        raise InvalidInput(f"invalid file name {basename!r}: no backslashes, absolute paths or control characters")
    parts = basename.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidInput(f"invalid file name {basename!r}: no '..', '.' or empty path segments")
    if len(parts) > 2:
        raise InvalidInput(f"invalid file name {basename!r}: at most one '/' (subdir/filename)")
    return basename


def is_conda_filename(filename: str) -> bool:
    return filename.endswith(CONDA_EXTENSIONS)


def split_conda_basename(basename: str) -> tuple[str, str]:
    """``linux-64/foo-1.0-0.tar.bz2`` → (``linux-64``, ``foo-1.0-0.tar.bz2``), subdir checked."""
    check_basename(basename)
    if "/" not in basename:
        raise InvalidInput(f"conda file name {basename!r} must be '<subdir>/<name>-<version>-<build>.<ext>'")
    subdir, filename = basename.split("/")
    check_subdir(subdir)
    if not is_conda_filename(filename):
        raise InvalidInput(f"conda file {filename!r} must end in .tar.bz2 or .conda")
    return subdir, filename


def strip_conda_extension(filename: str) -> tuple[str, str]:
    for ext in CONDA_EXTENSIONS:
        if filename.endswith(ext):
            return filename[: -len(ext)], ext
    raise InvalidInput(f"not a conda file name: {filename!r}")


def check_conda_name(name: str) -> str:
    if not _CONDA_NAME.fullmatch(name) or len(name) > 128:
        raise InvalidInput(f"invalid conda package name {name!r}")
    return name


def check_subdir_or_404(subdir: str) -> str:
    """Like ``check_subdir`` but for URLs: an unknown subdir is a missing page, not a bad request."""
    from packyard.errors import NotFound

    if subdir not in KNOWN_SUBDIRS:
        raise NotFound(f"unknown subdir {subdir!r}")
    return subdir
