"""Access control through the real clients: the unmodified ``anaconda`` CLI (tokens, groups, collaborators,
uploads into organizations) and py-rattler (installing a private package with a token in the channel URL).

One live server for the module. alice owns the organization ``acme`` (``packyard org create``); in acme, wes
is in the read-write group ``writers`` and rob in the read-only group ``readers``; otto belongs to nothing.
Transfers, organization deletion and notifications have no CLI command: they go through the API (httpx).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.clients import AnacondaCLI, rattler_error, rattler_install, rattler_installed, rattler_records
from support.condapkg import build_conda_package
from support.server import LiveServer

pytestmark = pytest.mark.client

LEGACY = {"ANACONDA_CLIENT_LEGACY_INTERACTIVE_LOGIN": "1"}
SCOPES = (
    "all",
    "api",
    "api:read",
    "api:write",
    "repos",
    "conda",
    "conda:download",
    "pypi",
    "pypi:upload",
    "pypi:download",
)
OTHER_USERS = ("wes", "rob", "otto", "nora", "dave")


# -- helpers -------------------------------------------------------------------------------------------------


def output(proc: subprocess.CompletedProcess[str]) -> str:
    """The CLI prints mostly to stderr; judge both streams together."""
    return proc.stdout + proc.stderr


def password(user: str) -> str:
    return f"{user}-password"


def http(server: LiveServer, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"token {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, trust_env=False, timeout=60)


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    message = response.json()["error"]
    assert isinstance(message, str) and message
    return message


def repodata_files(
    server: LiveServer, owner: str, token: str | None = None, subdir: str = "noarch"
) -> set[str]:
    with http(server, token) as c:
        r = c.get(f"/conda/{owner}/{subdir}/repodata.json")
    assert r.status_code == 200, r.text
    doc = r.json()
    return set(doc["packages"]) | set(doc["packages.conda"])


def package_status(server: LiveServer, owner: str, name: str, token: str | None) -> int:
    with http(server, token) as c:
        return c.get(f"/api/package/{owner}/{name}").status_code


def create_token(cli: AnacondaCLI, user: str, name: str, *extra: str) -> str:
    """`anaconda org auth --create` over plain HTTP: password on stdin; the token is the whole of stdout."""
    proc = cli.run("org", "auth", "--create", "--name", name, *extra, input=password(user) + "\n",
                   extra_env=LEGACY)  # fmt: skip
    token = proc.stdout
    assert re.fullmatch(r"[A-Za-z0-9-]+", token), output(proc)
    return token


def cli_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0, output(proc)
    return output(proc)


def refusal(proc: subprocess.CompletedProcess[str], token: str) -> tuple[int, str, str]:
    """(status, server message, rattler's error) for a rattler run stopped by an HTTP error. rattler names the
    status and the URL; the server's JSON body at that URL names the reason."""
    err = rattler_error(proc)
    assert err is not None, proc.stdout + proc.stderr
    m = re.search(r"\((\d{3}) [A-Za-z ]+\) for url \((\S+?)\)", err)
    assert m, err
    url = m.group(2).replace("********", token)  # rattler masks the token of the /t/<token>/ prefix form
    r = httpx.get(url, trust_env=False, timeout=30)
    return int(m.group(1)), error_of(r, int(m.group(1))), err


# -- fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def people(server: LiveServer) -> list[str]:
    with ThreadPoolExecutor(len(OTHER_USERS)) as pool:
        list(pool.map(lambda u: server.create_user(u, password(u)), OTHER_USERS))
    server.cli("org", "create", "acme", "--owner", "alice")
    return ["alice", "bob", *OTHER_USERS]


@pytest.fixture(scope="module")
def clis(server: LiveServer, workdir: Path, people: list[str]) -> Callable[[str], AnacondaCLI]:
    """A logged-in CLI home per user, made on first use."""
    made: dict[str, AnacondaCLI] = {}

    def get(user: str) -> AnacondaCLI:
        if user not in made:
            cli = AnacondaCLI(workdir / f"{user}-home")
            cli.configure(server.api_url)
            cli.login(user, password(user))
            assert cli.token(), f"login of {user} stored no token"
            made[user] = cli
        return made[user]

    return get


@pytest.fixture(scope="module")
def alice(clis: Callable[[str], AnacondaCLI]) -> AnacondaCLI:
    return clis("alice")


@pytest.fixture(scope="module")
def tokens(server: LiveServer, people: list[str]) -> dict[str, str]:
    """An API token per user (POST /api/authentications with Basic auth), for checks over httpx."""
    out = {}
    with http(server) as c:
        for user in people:
            r = c.post(
                "/api/authentications", auth=(user, password(user)), json={"scopes": [], "note": "checks"}
            )
            assert r.status_code == 200, r.text
            out[user] = r.json()["token"]
    return out


@pytest.fixture(scope="module")
def acme_groups(server: LiveServer, tokens: dict[str, str]) -> None:
    """writers (write: wes) and readers (read: rob) in acme."""
    with http(server, tokens["alice"]) as c:
        for group, perms, member in (("writers", "write", "wes"), ("readers", "read", "rob")):
            assert c.post(f"/api/group/acme/{group}", json={"perms": perms}).status_code == 204
            assert c.put(f"/api/group/acme/{group}/members/{member}").status_code == 204


@pytest.fixture(scope="module")
def private_pkg(alice: AnacondaCLI, workdir: Path) -> Path:
    """alice/cli-secret, uploaded with `anaconda upload --private`."""
    path = build_conda_package(workdir / "private", "cli-secret", "1.0")
    proc = alice.run("upload", "--private", str(path))
    assert "Upload complete" in output(proc)
    return path


# -- tokens with the CLI -------------------------------------------------------------------------------------


def test_auth_create_list_info_remove_and_list_scopes(server: LiveServer, alice: AnacondaCLI) -> None:
    token = create_token(alice, "alice", "cli-download", "--scopes", "conda:download")

    listed = output(alice.run("org", "auth", "--list"))
    row = next((line for line in listed.splitlines() if "cli-download" in line), None)
    assert row is not None and "conda:download" in row and "never" in row, listed

    info = output(alice.run("org", "auth", "--info", extra_env={"BINSTAR_API_TOKEN": token}))
    assert "Name: cli-download" in info and re.search(r"Id: \S+", info), info

    scopes = output(alice.run("org", "auth", "--list-scopes"))
    for scope in SCOPES:
        assert re.search(rf"^{re.escape(scope)}\n  \S", scopes, re.MULTILINE), (scope, scopes)

    assert "Removed token cli-download" in output(alice.run("org", "auth", "--remove", "cli-download"))
    assert "cli-download" not in output(alice.run("org", "auth", "--list"))
    refused = alice.run("org", "auth", "--info", check=False, extra_env={"BINSTAR_API_TOKEN": token})
    assert "('token revoked', 401)" in cli_error(refused)
    with http(server, token) as c:
        assert error_of(c.get("/conda/alice/noarch/repodata.json"), 401) == "token revoked"


def test_upload_private_is_absent_from_anonymous_repodata(
    server: LiveServer, alice: AnacondaCLI, private_pkg: Path
) -> None:
    assert private_pkg.name not in repodata_files(server, "alice")
    assert private_pkg.name in repodata_files(server, "alice", alice.token())
    assert package_status(server, "alice", "cli-secret", None) == 404
    with http(server) as c:
        assert c.get(f"/conda/alice/noarch/{private_pkg.name}").status_code == 404
        assert "cli-secret" not in c.get("/api/search", params={"name": "cli-secret"}).text
    # `anaconda show` as someone else: like a package that does not exist.
    shown = AnacondaCLI(Path(str(alice.home) + "-anonymous"))
    shown.configure(server.api_url)
    assert "('Package alice/cli-secret does not exist', 404)" in cli_error(
        shown.run("show", "alice/cli-secret", check=False)
    )


def test_rattler_installs_a_private_package_with_a_token_in_either_url_form(
    server: LiveServer, alice: AnacondaCLI, private_pkg: Path, workdir: Path
) -> None:
    token = create_token(alice, "alice", "rattler-download", "--scopes", "conda:download")
    for form, base in (("conda-t", f"{server.url}/conda/t/{token}/alice"),
                       ("root-t", f"{server.url}/t/{token}/conda/alice")):  # fmt: skip
        prefix = workdir / f"env-private-{form}"
        proc = rattler_install([base], ["cli-secret"], prefix, cache_dir=workdir / f"cache-private-{form}")
        assert rattler_installed(proc), f"{form}: {proc.stdout}{proc.stderr}"
        assert [(r.name, r.url) for r in rattler_records(proc)] == [
            ("cli-secret", f"{base}/noarch/{private_pkg.name}")
        ]
        assert (prefix / "share/cli-secret/VERSION").read_text() == "1.0\n"

    anonymous = rattler_install([f"{server.url}/conda/alice"], ["cli-secret"], workdir / "env-private-anon",
                                cache_dir=workdir / "cache-private-anon", solve_only=True)  # fmt: skip
    assert not rattler_records(anonymous)
    assert "cli-secret" in (rattler_error(anonymous) or ""), (
        anonymous.stdout
    )  # "no candidates for cli-secret"


def test_rattler_is_refused_with_a_wrong_an_expired_and_an_underscoped_token(
    server: LiveServer, alice: AnacondaCLI, private_pkg: Path, workdir: Path
) -> None:
    expired = create_token(alice, "alice", "rattler-expired", "--scopes", "conda:download", "--max-age", "1")
    api_only = create_token(alice, "alice", "rattler-api-only", "--scopes", "api:read")
    time.sleep(1.5)
    cases = {
        "wrong": ("py-00000000000000000000-wrong", 401, r"^invalid token"),
        "expired": (expired, 401, r"^token expired on \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"),
        "under-scoped": (api_only, 403, r"^token lacks scope conda:download$"),
    }
    for kind, (token, status, reason) in cases.items():
        for form, base in (("conda-t", f"{server.url}/conda/t/{token}/alice"),
                           ("root-t", f"{server.url}/t/{token}/conda/alice")):  # fmt: skip
            proc = rattler_install([base], ["cli-secret"], workdir / f"env-{kind}-{form}",
                                   cache_dir=workdir / f"cache-{kind}-{form}", solve_only=True)  # fmt: skip
            assert not rattler_records(proc) and not rattler_installed(proc), (kind, form, proc.stdout)
            got_status, message, err = refusal(proc, token)
            # rattler names the HTTP status; the server's answer at the URL it names says why.
            reason_phrase = {401: "401 Unauthorized", 403: "403 Forbidden"}[status]
            assert got_status == status and reason_phrase in err, (kind, form, err)
            assert re.search(reason, message), (kind, form, message)


# -- uploads into an organization ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "allowed"), [("alice", True), ("wes", True), ("rob", False), ("otto", False)]
)
def test_upload_into_org_by_role(
    server: LiveServer,
    clis: Callable[[str], AnacondaCLI],
    tokens: dict[str, str],
    acme_groups: None,
    workdir: Path,
    user: str,
    allowed: bool,
) -> None:
    name = f"org-by-{user}"
    path = build_conda_package(workdir / "org-uploads", name, "1.0")
    proc = clis(user).run("upload", "-u", "acme", str(path), check=False)
    if allowed:
        assert proc.returncode == 0 and "Upload complete" in output(proc), output(proc)
        assert path.name in repodata_files(server, "acme")
        with http(server, tokens["alice"]) as c:
            files = c.get(f"/api/package/acme/{name}").json()["files"]
        assert [f["basename"] for f in files] == [f"noarch/{path.name}"]
    else:
        assert f"('{user} may not write namespace acme', 403)" in cli_error(proc)
        # Nothing stored: no package, no file, no repodata entry (seen with the owner's rights).
        assert package_status(server, "acme", name, tokens["alice"]) == 404
        assert path.name not in repodata_files(server, "acme", tokens["alice"])


def test_read_only_member_cannot_upload_to_a_package_of_its_group(
    server: LiveServer,
    clis: Callable[[str], AnacondaCLI],
    alice: AnacondaCLI,
    tokens: dict[str, str],
    acme_groups: None,
    workdir: Path,
) -> None:
    first = build_conda_package(workdir / "org-shared", "org-shared", "1.0")
    alice.run("upload", "--private", "-u", "acme", str(first))
    with http(server, tokens["alice"]) as c:
        assert c.put("/api/group/acme/readers/packages/org-shared").status_code == 204
    assert package_status(server, "acme", "org-shared", tokens["rob"]) == 200  # rob may read it ...
    second = build_conda_package(workdir / "org-shared", "org-shared", "2.0")
    proc = clis("rob").run("upload", "-u", "acme", str(second), check=False)
    assert "('rob may not write acme/org-shared', 403)" in cli_error(proc)  # ... but not upload to it
    assert second.name not in repodata_files(server, "acme", tokens["alice"])
    with http(server, tokens["alice"]) as c:
        assert c.get("/api/release/acme/org-shared/2.0").status_code == 404


def test_org_token_uploads_into_the_org_but_not_into_its_creators_namespace(
    server: LiveServer, alice: AnacondaCLI, tokens: dict[str, str], workdir: Path
) -> None:
    org_token = create_token(alice, "alice", "acme-ci", "-o", "acme")
    into_org = build_conda_package(workdir / "org-token", "by-org-token", "1.0")
    proc = alice.run("-t", org_token, "upload", "-u", "acme", str(into_org))
    assert "Upload complete" in output(proc)
    assert into_org.name in repodata_files(server, "acme")

    personal = build_conda_package(workdir / "org-token", "not-for-alice", "1.0")
    refused = alice.run("-t", org_token, "upload", str(personal), check=False)  # default owner: alice
    assert "('this token acts for acme only: it may not write namespace alice', 403)" in cli_error(refused)
    assert package_status(server, "alice", "not-for-alice", tokens["alice"]) == 404
    assert personal.name not in repodata_files(server, "alice", tokens["alice"])

    assert "Removed token acme-ci" in output(alice.run("org", "auth", "-o", "acme", "--remove", "acme-ci"))
    with http(server, org_token) as c:
        assert error_of(c.get("/api/user"), 401) == "token revoked"


# -- groups, collaborators -----------------------------------------------------------------------------------


def test_groups_commands(
    server: LiveServer,
    alice: AnacondaCLI,
    clis: Callable[[str], AnacondaCLI],
    tokens: dict[str, str],
    workdir: Path,
) -> None:
    secret = build_conda_package(workdir / "groups", "qa-secret", "1.0")
    alice.run("upload", "--private", "-u", "acme", str(secret))

    assert "Created the group acme/qa" in output(alice.run("groups", "add", "acme/qa", "--perms", "read"))
    assert "'name': 'qa'" in output(alice.run("groups", "show", "acme"))
    assert "'permission': 'read'" in output(alice.run("groups", "show", "acme/qa"))

    assert 'Added the user "nora" to the group "acme/qa"' in output(
        alice.run("groups", "add_member", "acme/qa/nora")
    )
    assert re.search(r"^nora\s+nora$", output(alice.run("groups", "members", "acme/qa")), re.MULTILINE)
    assert package_status(server, "acme", "qa-secret", tokens["nora"]) == 404  # a member, not yet listed

    alice.run("groups", "add_package", "acme/qa/qa-secret")
    assert re.search(r"^acme/qa-secret\b", output(alice.run("groups", "packages", "acme/qa")), re.MULTILINE)
    assert "acme/qa-secret" in output(alice.run("groups", "show", "acme/qa"))
    assert package_status(server, "acme", "qa-secret", tokens["nora"]) == 200
    assert secret.name in repodata_files(server, "acme", tokens["nora"])

    alice.run("groups", "remove_package", "acme/qa/qa-secret")
    assert "acme/qa-secret" not in output(alice.run("groups", "packages", "acme/qa"))
    assert package_status(server, "acme", "qa-secret", tokens["nora"]) == 404
    assert secret.name not in repodata_files(server, "acme", tokens["nora"])

    assert 'Removed the user "nora" from the group "acme/qa"' in output(
        alice.run("groups", "remove_member", "acme/qa/nora")
    )
    assert "nora" not in output(alice.run("groups", "members", "acme/qa"))

    # Only the organization's owners (and admin groups) manage its groups.
    refused = clis("otto").run("groups", "add", "acme/mine", "--perms", "admin", check=False)
    assert "('otto may not admin namespace acme', 403)" in cli_error(refused)


def test_collaborator_can_upload_to_the_package(
    server: LiveServer,
    alice: AnacondaCLI,
    clis: Callable[[str], AnacondaCLI],
    tokens: dict[str, str],
    workdir: Path,
) -> None:
    v1 = build_conda_package(workdir / "collab", "collab-pkg", "1.0")
    v2 = build_conda_package(workdir / "collab", "collab-pkg", "2.0")
    alice.run("upload", str(v1))
    bob = clis("bob")
    before = bob.run("upload", "-u", "alice", str(v2), check=False)
    assert "('bob may not write alice/collab-pkg', 403)" in cli_error(before)
    assert v2.name not in repodata_files(server, "alice")

    alice.run("package", "--add-collaborator", "bob", "alice/collab-pkg")
    listed = output(alice.run("package", "--list-collaborators", "alice/collab-pkg"))
    assert re.search(r"\bbob\b", listed), listed

    after = bob.run("upload", "-u", "alice", str(v2))
    assert "Upload complete" in output(after)
    assert {v1.name, v2.name} <= repodata_files(server, "alice")
    with http(server, tokens["alice"]) as c:
        assert c.get("/api/release/alice/collab-pkg/2.0").status_code == 200
    # A collaborator may upload, not give the package away or change who collaborates.
    with http(server, tokens["bob"]) as c:
        error_of(c.put("/api/packages/alice/collab-pkg/collaborators/otto"), 403)
        error_of(c.post("/api/package/alice/collab-pkg/transfer", json={"to_owner": "acme"}), 403)


# -- transfer, organization deletion, notifications, disabled users ------------------------------------------


def test_transfer_moves_the_package_to_the_org_channel_at_once(
    server: LiveServer, alice: AnacondaCLI, tokens: dict[str, str], workdir: Path
) -> None:
    path = build_conda_package(workdir / "transfer", "moving-pkg", "1.0")
    alice.run("upload", str(path))
    assert path.name in repodata_files(server, "alice")

    with http(server, tokens["otto"]) as c:  # someone else cannot move it
        error_of(c.post("/api/package/alice/moving-pkg/transfer", json={"to_owner": "acme"}), 403)
    with http(server, tokens["alice"]) as c:
        r = c.post("/api/package/alice/moving-pkg/transfer", json={"to_owner": "acme"})
    assert r.status_code == 200, r.text
    assert r.json()["full_name"] == "acme/moving-pkg"

    # No wait: the old channel stops listing it and the new one lists it in the same request cycle.
    assert path.name not in repodata_files(server, "alice")
    assert path.name not in repodata_files(server, "alice", tokens["alice"])
    assert path.name in repodata_files(server, "acme")
    assert package_status(server, "alice", "moving-pkg", tokens["alice"]) == 404
    with http(server) as c:
        assert c.get(f"/conda/alice/noarch/{path.name}").status_code == 404
        assert c.get(f"/conda/acme/noarch/{path.name}").content == path.read_bytes()

    prefix = workdir / "env-transfer"
    proc = rattler_install(
        [f"{server.url}/conda/acme"], ["moving-pkg"], prefix, cache_dir=workdir / "cache-transfer"
    )
    assert rattler_installed(proc), proc.stdout + proc.stderr
    assert [r.url for r in rattler_records(proc)] == [f"{server.url}/conda/acme/noarch/{path.name}"]
    assert (prefix / "share/moving-pkg/VERSION").read_text() == "1.0\n"


def test_org_deletion_needs_its_name_as_confirmation(
    server: LiveServer, alice: AnacondaCLI, tokens: dict[str, str], workdir: Path
) -> None:
    with http(server, tokens["alice"]) as c:
        assert c.post("/api/orgs/doomed").status_code == 201
    path = build_conda_package(workdir / "doomed", "doomed-pkg", "1.0")
    alice.run("upload", "-u", "doomed", str(path))

    def delete(token: str, body: Any) -> httpx.Response:
        with http(server, token) as c:
            return c.request("DELETE", "/api/orgs/doomed", json=body)

    assert "confirm" in error_of(delete(tokens["alice"], None), 400)
    assert "confirm" in error_of(delete(tokens["alice"], {"confirm": "acme"}), 400)
    error_of(delete(tokens["otto"], {"confirm": "doomed"}), 403)
    assert path.name in repodata_files(server, "doomed")  # still all there

    r = delete(tokens["alice"], {"confirm": "doomed"})
    assert r.status_code == 200, r.text
    with http(server) as c:
        assert c.get("/api/user/doomed").status_code == 404
        assert c.get("/conda/doomed/noarch/repodata.json").status_code == 404
        assert c.get(f"/conda/doomed/noarch/{path.name}").status_code == 404
    assert """("user 'doomed' does not exist", 404)""" in cli_error(alice.run("show", "doomed", check=False))


def test_a_user_added_to_a_group_is_notified(
    server: LiveServer, alice: AnacondaCLI, tokens: dict[str, str]
) -> None:
    alice.run("groups", "add", "acme/notified", "--perms", "write")
    with http(server, tokens["nora"]) as c:
        before = c.get("/api/notifications").json()
    alice.run("groups", "add_member", "acme/notified/nora")
    with http(server, tokens["nora"]) as c:
        after = c.get("/api/notifications").json()
        error_of(httpx.get(f"{server.api_url}/notifications", trust_env=False), 401)
    new = [n for n in after if n["id"] not in {b["id"] for b in before}]
    assert len(new) == 1, after
    assert "notified" in new[0]["message"] and "acme" in new[0]["message"], new
    assert new[0]["read"] is False and new[0]["created_at"]


def test_disabling_a_user_stops_their_token_at_once(
    server: LiveServer, clis: Callable[[str], AnacondaCLI], workdir: Path
) -> None:
    dave = clis("dave")
    token = dave.token()
    assert token
    assert "Username: dave" in output(dave.run("org", "whoami"))
    with http(server, token) as c:
        assert c.get("/conda/alice/noarch/repodata.json").status_code == 200

    server.cli("user", "disable", "dave")
    listed = server.cli("user", "list").stdout
    assert "yes" in next(line for line in listed.splitlines() if " dave " in line), listed
    with http(server, token) as c:
        assert error_of(c.get("/api/user"), 401) == "user 'dave' is disabled"
        assert error_of(c.get("/conda/alice/noarch/repodata.json"), 401) == "user 'dave' is disabled"
    assert "Anonymous User" in output(dave.run("org", "whoami"))  # the CLI's way of saying 401
    again = AnacondaCLI(workdir / "dave-again-home")
    again.configure(server.api_url)
    assert again.login("dave", password("dave"), check=False).returncode != 0

    server.cli("user", "disable", "dave", "--enable")
    assert "Username: dave" in output(dave.run("org", "whoami"))
