"""Name rules (domain/names.py): owners, packages, conda names, labels, subdirs, uploaded basenames."""

from __future__ import annotations

import pytest

from packyard.domain import names
from packyard.errors import InvalidInput, NotFound

# -- owner logins


@pytest.mark.parametrize(
    "login", ["alice", "a", "a1", "bob-smith", "bob_smith", "bob.smith", "9lives", "x" * 64, "a_"]
)
def test_valid_logins(login: str) -> None:
    assert names.check_login(login) == login


def test_login_is_lowercased() -> None:
    assert names.check_login("Alice") == "alice"


@pytest.mark.parametrize(
    "login",
    [
        "",
        "-alice",
        ".alice",
        "_alice",
        "alice-",
        "alice.",
        "x" * 65,
        "al ice",
        "al/ice",
        "al%ice",
        "../x",
        "ali\nce",
        "ålice",
        "alice\n",
    ],
)
def test_invalid_logins(login: str) -> None:
    with pytest.raises(InvalidInput, match="invalid name"):
        names.check_login(login)


@pytest.mark.parametrize(
    "login", ["api", "conda", "pypi", "t", "label", "files", "static", "admin", "login", "API", "Conda"]
)
def test_reserved_logins_collide_with_urls(login: str) -> None:
    # /t/<token>/..., /conda/..., /api/...: a user with these names would shadow a route.
    with pytest.raises(InvalidInput):
        names.check_login(login)


# -- package names, conda names, versions


@pytest.mark.parametrize(
    "name", ["numpy", "NumPy", "ruamel.yaml", "python_abi", "libstdcxx-ng", "g++", "_libgcc", "a", "x" * 200]
)
def test_valid_package_names(name: str) -> None:
    assert names.check_package_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "-x", ".x", "+x", "x" * 201, "a b", "a/b", "../a", "a\\b", "a:b", "a\x00", "naïve", "numpy\n"],
)
def test_invalid_package_names(name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid package name"):
        names.check_package_name(name)


@pytest.mark.parametrize("name", ["numpy", "_libgcc_mutex", "ruamel.yaml", "libstdcxx-ng", "g++", "x" * 128])
def test_valid_conda_names(name: str) -> None:
    assert names.check_conda_name(name) == name


@pytest.mark.parametrize("name", ["", "NumPy", "-x", ".x", "a b", "a/b", "x" * 129, "a\n"])
def test_invalid_conda_names(name: str) -> None:
    with pytest.raises(InvalidInput):
        names.check_conda_name(name)


@pytest.mark.parametrize(
    "version", ["1.0", "1.0.0rc1", "2024.1.1", "1!2.0", "1.0+local", "1.*", "1_2", "x" * 200]
)
def test_valid_versions(version: str) -> None:
    assert names.check_version(version) == version


@pytest.mark.parametrize("version", ["", "1.0 beta", "1/0", "../1", "1\\0", "x" * 201, "1.0\n"])
def test_invalid_versions(version: str) -> None:
    with pytest.raises(InvalidInput, match="invalid version"):
        names.check_version(version)


# -- labels


@pytest.mark.parametrize(
    "label", ["main", "dev", "Dev", "rc-1", "gcc_13", "v1.2", "a", "a" + "b" * 127, "a.."]
)
def test_valid_labels(label: str) -> None:
    assert names.check_label(label) == label


@pytest.mark.parametrize(
    "label",
    [
        "",
        "1dev",
        "-dev",
        "_dev",
        ".dev",
        "..",
        "a" + "b" * 128,
        "dev/../main",
        "../dev",
        "dev/x",
        "dev x",
        "dev\\x",
        "dev\x00",
        "dév",
        "dev\n",
    ],
)
def test_invalid_labels(label: str) -> None:
    with pytest.raises(InvalidInput, match="invalid label"):
        names.check_label(label)


# -- subdirs


@pytest.mark.parametrize("subdir", sorted(names.KNOWN_SUBDIRS))
def test_known_subdirs(subdir: str) -> None:
    assert names.check_subdir(subdir) == subdir
    assert names.check_subdir_or_404(subdir) == subdir


def test_known_subdirs_match_conda() -> None:
    assert {
        "noarch",
        "linux-64",
        "linux-aarch64",
        "osx-64",
        "osx-arm64",
        "win-64",
        "emscripten-wasm32",
        "zos-z",
    } <= names.KNOWN_SUBDIRS
    assert len(names.KNOWN_SUBDIRS) == 19


@pytest.mark.parametrize(
    "subdir",
    [
        "",
        "linux",
        "Linux-64",
        "NOARCH",
        "linux-65",
        "..",
        "noarch/..",
        "noarch/",
        "../noarch",
        "any",
        "linux_64",
    ],
)
def test_unknown_subdirs(subdir: str) -> None:
    with pytest.raises(InvalidInput, match="unknown subdir"):
        names.check_subdir(subdir)
    # In a URL an unknown subdir is a missing page, not a bad request.
    with pytest.raises(NotFound):
        names.check_subdir_or_404(subdir)


# -- uploaded basenames


@pytest.mark.parametrize(
    "basename",
    [
        "noarch/foo-1.0-0.tar.bz2",
        "linux-64/foo-1.0-0.conda",
        "foo-1.0.tar.gz",
        "foo-1.0-py3-none-any.whl",
        "a",
        "x" * 300,
        "dir/..file",
        "..foo",
    ],
)
def test_valid_basenames(basename: str) -> None:
    assert names.check_basename(basename) == basename


@pytest.mark.parametrize(
    "basename",
    [
        "",
        "x" * 301,
        "..",
        ".",
        "../foo-1.0-0.tar.bz2",
        "../../etc/passwd",
        "noarch/../../foo-1.0-0.tar.bz2",
        "noarch/..",
        "noarch/.",
        "./foo",
        "/etc/passwd",
        "/noarch/foo-1.0-0.tar.bz2",
        "noarch//foo-1.0-0.tar.bz2",
        "noarch/",
        "noarch\\foo-1.0-0.tar.bz2",
        "..\\..\\windows\\system32",
        "C:\\evil",
        "noarch/foo\x00.tar.bz2",
        "foo\nbar",
        "foo\rbar",
        "foo\x7f",
        "a/b/c",
        "linux-64/sub/foo-1.0-0.conda",
    ],
)
def test_invalid_basenames(basename: str) -> None:
    with pytest.raises(InvalidInput):
        names.check_basename(basename)


def test_split_conda_basename() -> None:
    assert names.split_conda_basename("linux-64/foo-1.0-0.conda") == ("linux-64", "foo-1.0-0.conda")
    assert names.split_conda_basename("noarch/foo-1.0-0.tar.bz2") == ("noarch", "foo-1.0-0.tar.bz2")


@pytest.mark.parametrize(
    ("basename", "message"),
    [
        ("foo-1.0-0.tar.bz2", "must be '<subdir>/"),
        ("linux-65/foo-1.0-0.tar.bz2", "unknown subdir"),
        ("noarch/foo-1.0-0.zip", "must end in .tar.bz2 or .conda"),
        ("noarch/foo-1.0-0.tar.gz", "must end in .tar.bz2 or .conda"),
        ("noarch/../foo-1.0-0.tar.bz2", "'..'"),
        ("../noarch/foo-1.0-0.conda", "'..'"),
        ("noarch/a/foo-1.0-0.conda", "at most one '/'"),
    ],
)
def test_split_conda_basename_refuses(basename: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace(".", r"\.").replace("(", r"\(")):
        names.split_conda_basename(basename)


def test_conda_extensions() -> None:
    assert names.is_conda_filename("foo-1.0-0.tar.bz2") and names.is_conda_filename("foo-1.0-0.conda")
    for other in (
        "repodata.json",
        "repodata.json.zst",
        "current_repodata.json",
        "foo.tar.gz",
        "foo.conda.zip",
        "repodata_shards.msgpack.zst",
    ):
        assert not names.is_conda_filename(other), other
    assert names.strip_conda_extension("foo-1.0-0.tar.bz2") == ("foo-1.0-0", ".tar.bz2")
    assert names.strip_conda_extension("foo-1.0-0.conda") == ("foo-1.0-0", ".conda")
    assert names.strip_conda_extension("x.conda-1-0.tar.bz2") == ("x.conda-1-0", ".tar.bz2")
    with pytest.raises(InvalidInput, match="not a conda file name"):
        names.strip_conda_extension("foo-1.0.tar.gz")


@pytest.mark.parametrize(
    "check",
    [
        names.check_login,
        names.check_package_name,
        names.check_conda_name,
        names.check_label,
        names.check_version,
    ],
)
def test_trailing_newline_is_refused(check: object) -> None:
    # A regex ``$`` also matches before a final "\n": every rule must match the whole string.
    with pytest.raises(InvalidInput):
        check("valid\n")  # type: ignore[operator]
    assert check("valid") == "valid"  # type: ignore[operator]
