"""The authorization matrix: every principal × every resource × every surface, against one live server.

The expected outcome of each cell comes from the rule table below (``RIGHTS``, ``SCOPES_ALLOWING``,
``expect``), written from the access rules of the issue, not from packyard's own ``can()``. Each cell asserts
the outcome, and for a refusal that nothing of the resource leaks: a 404 reads exactly like the 404 of a
package that does not exist (same status, same wording once the name is swapped), and a hidden package's name
appears nowhere in a list, a search result, ``repodata.json`` or ``channeldata.json``.

Principals reach the API with ``Authorization: token T``, as the anaconda CLI does, and the conda channels
with ``/conda/t/<T>/<owner>/...``, as conda and rattler do. The cell count is printed in the terminal summary.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from support.condapkg import build_conda_package
from support.server import LiveServer

pytestmark = pytest.mark.client

# -- the world -----------------------------------------------------------------------------------------------
#
# alice owns the user namespace ``alice`` and co-owns the organization ``acme`` (created by olga).
# acme has three groups besides ``owners``: readers (read: rita), writers (write: wade), admins (admin: adam);
# every acme matrix package is in all three groups. colin collaborates on all six matrix packages; so did
# dave, who is then disabled. bob is unrelated to everything. sue is a superuser.

VERSION = "1.0"
PASSWORDS = {
    name: f"{name}-password"
    for name in ("alice", "bob", "olga", "colin", "rita", "wade", "adam", "dave", "sue")
}
NAMESPACES = {"user": "alice", "org": "acme"}
ACCESS_LEVELS = ("public", "authenticated", "private")


@dataclass(frozen=True)
class Resource:
    namespace: str  # "user" | "org"
    access: str

    @property
    def owner(self) -> str:
        return NAMESPACES[self.namespace]

    @property
    def name(self) -> str:
        return f"mx-{self.access[:4]}-{self.namespace}"

    @property
    def key(self) -> str:
        return f"{self.owner}/{self.access}"

    def filename(self, build: str = "0") -> str:
        return f"{self.name}-{VERSION}-{build}.tar.bz2"


RESOURCES = [Resource(ns, access) for ns in NAMESPACES for access in ACCESS_LEVELS]
# The file the delete cells remove (and put back); the build-0 file stays for every other surface.
DISPOSABLE_BUILD = "1"

# -- the rule table ------------------------------------------------------------------------------------------

# What each relation to a package lets its holder do (a private package can be read only with "read").
RIGHTS: dict[str, frozenset[str]] = {
    "owner": frozenset({"read", "write", "delete"}),
    "org-owner": frozenset({"read", "write", "delete"}),
    "admin-group": frozenset({"read", "write", "delete"}),
    "write-group": frozenset({"read", "write", "delete"}),
    "read-group": frozenset({"read"}),
    "collaborator": frozenset({"read", "write", "delete"}),
    "superuser": frozenset({"read", "write", "delete"}),
    "org-token": frozenset({"read", "write", "delete"}),  # an organization token, in its organization
    "none": frozenset(),
}

# user → namespace owner → relation to every matrix package there (absent: "none").
RELATIONS: dict[str, dict[str, str]] = {
    "alice": {"alice": "owner", "acme": "org-owner"},
    "olga": {"acme": "org-owner"},
    "colin": {"alice": "collaborator", "acme": "collaborator"},
    "rita": {"acme": "read-group"},
    "wade": {"acme": "write-group"},
    "adam": {"acme": "admin-group"},
    "dave": {"alice": "collaborator", "acme": "collaborator"},
    "bob": {},
    "sue": {"alice": "superuser", "acme": "superuser"},
}

# Which token scopes allow reading / writing on each protocol (no scopes at all: the user's full rights).
SCOPES_ALLOWING: dict[tuple[str, str], frozenset[str]] = {
    ("api", "read"): frozenset({"all", "api", "api:read", "api:write", "repos"}),
    ("api", "write"): frozenset({"all", "api", "api:write", "repos"}),
    ("conda", "read"): frozenset({"all", "conda", "conda:download", "repos"}),
}
SCOPE_NAMED: dict[tuple[str, str], str] = {
    ("api", "read"): "api:read",
    ("api", "write"): "api:write",
    ("conda", "read"): "conda:download",
}

# surface → (protocol, action, kind). "package": a request about one package (404 when it is not visible);
# "collection": an answer that lists what is visible (the caller's scope is checked before anything else).
SURFACES: dict[str, tuple[str, str, str]] = {
    "api-read": ("api", "read", "package"),  # GET /api/package/<o>/<p>
    "api-write": ("api", "write", "package"),  # PATCH /api/package/<o>/<p> summary
    "api-delete": ("api", "delete", "package"),  # DELETE /api/dist/<o>/<p>/<v>/<disposable file>
    "api-download": ("api", "read", "package"),  # GET /api/download/... → 302 to a signed URL
    "search": ("api", "read", "collection"),  # GET /api/search?name=<p>
    "list": ("api", "read", "collection"),  # GET /api/packages/<o>
    "repodata": ("conda", "read", "collection"),  # GET /conda/<o>/noarch/repodata.json
    "channeldata": ("conda", "read", "collection"),  # GET /conda/<o>/channeldata.json
    "download": ("conda", "read", "channel-file"),  # GET /conda/<o>/noarch/<file>
}


@dataclass(frozen=True)
class Principal:
    key: str
    user: str | None = None  # whose rights (None: anonymous)
    scopes: tuple[str, ...] | None = None  # None: the session token of `anaconda login`; (): a token without
    # scopes. Both carry the user's full rights.
    acts_for: str | None = None  # an organization token
    refused: str | None = None  # the credential itself is refused: regex of the 401 message


PRINCIPALS = [
    Principal("anonymous"),
    *[
        Principal(f"owner-token[{s}]", "alice", (s,))
        for s in ("api:read", "api:write", "conda:download", "pypi:download", "all")
    ],
    Principal("owner-token[no-scope]", "alice", ()),
    Principal("expired-token", "alice", (), refused=r"^token expired on \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"),
    Principal("revoked-token", "alice", (), refused=r"^token revoked$"),
    Principal("unknown-token", None, refused=r"^invalid token"),
    Principal("owner", "alice"),
    Principal("collaborator", "colin"),
    Principal("org-owner", "olga"),
    Principal("read-group-member", "rita"),
    Principal("write-group-member", "wade"),
    Principal("admin-group-member", "adam"),
    Principal("unrelated-user", "bob"),
    Principal("unrelated-token[conda:download]", "bob", ("conda:download",)),
    Principal("disabled-user", "dave", refused=r"^user 'dave' is disabled$"),
    Principal("superuser", "sue"),
    Principal("org-token[acme]", "alice", acts_for="acme"),
]


def relation(p: Principal, r: Resource) -> str:
    if p.user is None:
        return "none"
    if p.acts_for is not None:  # acts as the organization only, never with its creator's own rights
        return "org-token" if p.acts_for == r.owner else "none"
    return RELATIONS[p.user].get(r.owner, "none")


@dataclass(frozen=True)
class Expect:
    status: int
    listed: bool | None = None  # collections: the package is listed
    error: str | None = None  # regex the {"error": ...} message must match
    like_missing: bool = False  # a 404 that must read like the 404 of a package that does not exist

    @property
    def allowed(self) -> bool:
        return self.status in (200, 302) and self.listed is not False


def expect(p: Principal, r: Resource, surface: str) -> Expect:
    """The outcome the rules give for one cell."""
    if p.refused is not None:
        return Expect(401, error=p.refused)
    protocol, action, kind = SURFACES[surface]
    need = "read" if action == "read" else "write"
    scope_ok = p.scopes is None or not p.scopes or bool(set(p.scopes) & SCOPES_ALLOWING[(protocol, need)])
    lacks = Expect(403, error=f"^token lacks scope {re.escape(SCOPE_NAMED[(protocol, need)])}$")
    rights = RIGHTS[relation(p, r)]
    visible = r.access == "public" or (r.access == "authenticated" and p.user is not None) or "read" in rights
    if kind == "collection":
        if not scope_ok:
            return lacks
        return Expect(200, listed=visible)
    if kind == "channel-file":  # the channel checks the scope first, for every file name alike
        if not scope_ok:
            return lacks
        return Expect(200) if visible else Expect(404, like_missing=True)
    # One package through the API: what the caller could not see even with full scope does not exist.
    if not visible:
        return Expect(404, like_missing=True)
    if not scope_ok:
        return lacks
    if action == "read" or action in rights:
        return Expect(302 if surface == "api-download" else 200)
    if p.user is None:
        return Expect(401, error="^authentication required")
    if p.acts_for is not None:  # the refusal names the organization the token acts for, not its creator
        return Expect(
            403, error=rf"^this token acts for {p.acts_for} only: it may not {action} {r.owner}/{r.name}$"
        )
    return Expect(403, error=rf"^{p.user} may not {action} {r.owner}/{r.name}$")


CELLS = [(p, r, s) for p in PRINCIPALS for r in RESOURCES for s in SURFACES]

# -- the live world ------------------------------------------------------------------------------------------


def basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()


@dataclass
class World:
    server: LiveServer
    client: httpx.Client
    credentials: dict[str, str | None] = field(default_factory=dict)  # principal key → token (None: none)
    files: dict[str, Path] = field(default_factory=dict)  # file name → local file
    admin_token: str = ""  # alice's full-rights token for setup and checks

    def api_headers(self, p: Principal) -> dict[str, str]:
        token = self.credentials[p.key]
        return {"Authorization": f"token {token}"} if token else {}

    def conda_base(self, p: Principal, owner: str) -> str:
        """The channel URL for this principal: a token goes into the path, as conda puts it there."""
        token = self.credentials[p.key]
        return f"/conda/t/{token}/{owner}" if token else f"/conda/{owner}"

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"token {self.admin_token}"}


def ok(response: httpx.Response, *statuses: int) -> httpx.Response:
    assert response.status_code in (statuses or (200,)), (
        response.request.method,
        response.request.url,
        response.status_code,
        response.text,
    )
    return response


def make_token(client: httpx.Client, auth: str, note: str, scopes: list[str] | None, **extra: Any) -> str:
    """A token from POST /api/authentications; ``scopes`` None: a login session, as `anaconda login` makes."""
    body = {"note": note, **extra} if scopes is None else {"scopes": scopes, "note": note, **extra}
    r = ok(client.post("/api/authentications", headers={"Authorization": auth}, json=body))
    token = r.json()["token"]
    assert re.fullmatch(r"[A-Za-z0-9-]+", token)
    return str(token)


def upload(client: httpx.Client, headers: dict[str, str], owner: str, package: str, path: Path) -> None:
    """The anaconda upload protocol (stage → storage POST → commit) over plain httpx."""
    data = path.read_bytes()
    basename = f"noarch/{path.name}"
    r = ok(
        client.post(
            f"/api/stage/{owner}/{package}/{VERSION}/{quote(basename)}",
            headers=headers,
            json={
                "distribution_type": "conda",
                "description": None,
                "attrs": {},
                "dependencies": None,
                "channels": [],
                "sha256": hashlib.sha256(data).hexdigest(),
            },
        )
    )
    staged = r.json()
    fields = {
        **staged["form_data"],
        "Content-Length": str(len(data)),
        "Content-MD5": base64.b64encode(hashlib.md5(data).digest()).decode(),
    }
    with httpx.Client(trust_env=False, timeout=60) as bare:
        ok(bare.post(staged["post_url"], data=fields, files={"file": (path.name, data)}), 201)
    ok(
        client.post(
            f"/api/commit/{owner}/{package}/{VERSION}/{quote(basename)}",
            headers=headers,
            json={"dist_id": staged["dist_id"]},
        )
    )


@pytest.fixture(scope="module")
def world(server: LiveServer, workdir: Path) -> Iterator[World]:
    client = httpx.Client(base_url=server.url, trust_env=False, timeout=60)
    w = World(server, client)
    # One login session per user (Basic auth, slow by design: argon2); every other token is minted with it.
    sessions = {"alice": make_token(client, basic("alice"), "mx-session", None)}
    # Expires one second from now; every cell runs after the wait at the end of this setup.
    expired_at = time.monotonic()
    w.credentials["expired-token"] = make_token(client, basic("alice"), "mx-expired", [], **{"max-age": 1})

    others = ("bob", "olga", "colin", "rita", "wade", "adam", "dave", "sue")
    with ThreadPoolExecutor(8) as pool:  # each `packyard user create` is a process start and an argon2 hash
        list(
            pool.map(
                lambda name: server.create_user(name, PASSWORDS[name], superuser=name == "sue"), others[1:]
            )
        )
        sessions.update(
            zip(others, pool.map(lambda name: make_token(client, basic(name), "mx-session", None), others))
        )

    w.admin_token = make_token(client, f"token {sessions['alice']}", "mx-admin", [])
    olga = {"Authorization": f"token {sessions['olga']}"}
    ok(client.post("/api/orgs/acme", headers=olga), 201)
    ok(client.put("/api/orgs/acme/owners/alice", headers=olga), 201)
    for group, perms in (("readers", "read"), ("writers", "write"), ("admins", "admin")):
        ok(client.post(f"/api/group/acme/{group}", headers=olga, json={"perms": perms}), 204)
    for group, member in (("readers", "rita"), ("writers", "wade"), ("admins", "adam")):
        ok(client.put(f"/api/group/acme/{group}/members/{member}", headers=olga), 204)

    for r in RESOURCES:
        ok(
            client.post(
                f"/api/package/{r.owner}/{r.name}",
                headers=w.admin,
                json={
                    "public": r.access == "public",
                    "access": r.access,
                    "publish": False,
                    "public_attrs": {"summary": "a matrix package"},
                },
            )
        )
        ok(client.post(f"/api/release/{r.owner}/{r.name}/{VERSION}", headers=w.admin, json={}))
        for build in ("0", DISPOSABLE_BUILD):
            path = build_conda_package(workdir / "mx-pkgs", r.name, VERSION, build=build)
            w.files[path.name] = path
            upload(client, w.admin, r.owner, r.name, path)
        for user in ("colin", "dave"):
            ok(client.put(f"/api/packages/{r.owner}/{r.name}/collaborators/{user}", headers=w.admin), 201)
        if r.namespace == "org":
            for group in ("readers", "writers", "admins"):
                ok(client.put(f"/api/group/acme/{group}/packages/{r.name}", headers=olga), 204)
        got = ok(client.get(f"/api/package/{r.owner}/{r.name}", headers=w.admin)).json()
        assert got["access"] == r.access, got

    for p in PRINCIPALS:
        if p.key in w.credentials:
            continue
        if p.user is None:
            w.credentials[p.key] = "mx-0000000000000000-unknown" if p.refused else None
        elif p.scopes is None and p.acts_for is None:
            w.credentials[p.key] = sessions[p.user]
        else:
            w.credentials[p.key] = make_token(
                client, f"token {sessions[p.user]}", f"mx-{p.key}", list(p.scopes or ()), user=p.acts_for
            )

    revoked = w.credentials["revoked-token"]
    private = next(r for r in RESOURCES if r.access == "private" and r.namespace == "user")
    ok(client.get(f"/api/package/alice/{private.name}", headers={"Authorization": f"token {revoked}"}))
    ok(client.delete("/api/authentications/name/mx-revoked-token", headers=w.admin), 201)

    # dave could read the private package a moment ago; disabling him stops his token at once.
    dave = {"Authorization": f"token {w.credentials['disabled-user']}"}
    ok(client.get(f"/api/package/alice/{private.name}", headers=dave))
    server.cli("user", "disable", "dave")

    time.sleep(max(0.0, expired_at + 1.5 - time.monotonic()))
    yield w
    client.close()


# -- running one cell ----------------------------------------------------------------------------------------

MISSING = "mx-nothere"  # a package name that exists in no namespace


def request(w: World, p: Principal, r: Resource, surface: str, package: str | None = None) -> httpx.Response:
    """The request of one cell; ``package`` replaces the package name (to ask for a missing one)."""
    name = package or r.name
    owner = r.owner
    headers = w.api_headers(p)
    disposable = f"noarch/{name}-{VERSION}-{DISPOSABLE_BUILD}.tar.bz2"
    if surface == "api-read":
        return w.client.get(f"/api/package/{owner}/{name}", headers=headers)
    if surface == "api-write":
        return w.client.patch(
            f"/api/package/{owner}/{name}",
            headers=headers,
            json={"public_attrs": {"summary": f"summary set by {p.key}"}},
        )
    if surface == "api-delete":
        return w.client.delete(f"/api/dist/{owner}/{name}/{VERSION}/{disposable}", headers=headers)
    if surface == "api-download":
        return w.client.get(
            f"/api/download/{owner}/{name}/{VERSION}/noarch/{name}-{VERSION}-0.tar.bz2", headers=headers
        )
    if surface == "search":
        return w.client.get("/api/search", params={"name": name}, headers=headers)
    if surface == "list":
        return w.client.get(f"/api/packages/{owner}", headers=headers)
    base = w.conda_base(p, owner)
    if surface == "repodata":
        return w.client.get(f"{base}/noarch/repodata.json")
    if surface == "channeldata":
        return w.client.get(f"{base}/channeldata.json")
    if surface == "download":
        return w.client.get(f"{base}/noarch/{name}-{VERSION}-0.tar.bz2")
    raise AssertionError(surface)


def error_of(response: httpx.Response) -> str:
    assert response.headers.get("content-type", "").startswith("application/json"), response.text
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    return str(body["error"])


def normalized(response: httpx.Response, name: str) -> tuple[int, str, str]:
    return (
        response.status_code,
        response.headers.get("content-type", ""),
        response.text.replace(name, "<NAME>"),
    )


def disposable_exists(w: World, r: Resource) -> bool:
    got = w.client.get(
        f"/api/dist/{r.owner}/{r.name}/{VERSION}/noarch/{r.filename(DISPOSABLE_BUILD)}", headers=w.admin
    )
    assert got.status_code in (200, 404), got.text
    return got.status_code == 200


def current_summary(w: World, r: Resource) -> str | None:
    return ok(w.client.get(f"/api/package/{r.owner}/{r.name}", headers=w.admin)).json()["summary"]


def listed_names(surface: str, response: httpx.Response, r: Resource) -> set[str]:
    """The package names a collection answer lists."""
    body = response.json()
    if surface in ("search", "list"):
        return {item["full_name"] for item in body}
    if surface == "repodata":
        return {
            rec["name"] for rec in {**body.get("packages", {}), **body.get("packages.conda", {})}.values()
        }
    return set(body.get("packages", {}))  # channeldata


def check_cell(w: World, p: Principal, r: Resource, surface: str) -> Expect:
    want = expect(p, r, surface)
    summary_before = current_summary(w, r) if surface == "api-write" else None
    got = request(w, p, r, surface)
    where = f"{p.key} × {r.key} ({r.name}) × {surface}"
    assert got.status_code == want.status, (
        f"{where}: expected {want.status}, got {got.status_code}: {got.text}"
    )

    if want.error is not None:
        message = error_of(got)
        assert re.search(want.error, message), f"{where}: error {message!r} does not match {want.error!r}"
    if want.like_missing:
        reference = request(w, p, r, surface, package=MISSING)
        assert normalized(got, r.name) == normalized(reference, MISSING), (
            f"{where}: the 404 differs from a missing package's: {got.text!r} vs {reference.text!r}"
        )

    if want.listed is not None:
        names = listed_names(surface, got, r)
        wanted = f"{r.owner}/{r.name}" if surface in ("search", "list") else r.name
        if want.listed:
            assert wanted in names, f"{where}: {wanted} not listed in {sorted(names)}"
            if surface == "repodata":
                assert r.filename() in got.json()["packages"], where
        else:
            assert wanted not in names, f"{where}: hidden {wanted} is listed"
            assert r.name not in got.text, f"{where}: the hidden name appears in the answer"

    if surface == "api-read" and want.status == 200:
        body = got.json()
        assert body["full_name"] == f"{r.owner}/{r.name}" and body["access"] == r.access, where
        assert f"noarch/{r.filename()}" in {f["basename"] for f in body["files"]}, where
    if surface == "api-write":
        after = current_summary(w, r)
        if want.status == 200:
            assert after == f"summary set by {p.key}", where
        else:
            assert after == summary_before, f"{where}: a refused write changed the summary to {after!r}"
    if surface == "api-delete":
        if want.status == 200:
            assert not disposable_exists(w, r), f"{where}: the file is still there"
            upload(w.client, w.admin, r.owner, r.name, w.files[r.filename(DISPOSABLE_BUILD)])
        assert disposable_exists(w, r), f"{where}: the disposable file is gone"
    if surface in ("download", "api-download") and want.status in (200, 302):
        content = got if want.status == 200 else w.client.get(got.headers["location"])
        ok(content)
        assert content.content == w.files[r.filename()].read_bytes(), where
    return want


# -- the matrix ----------------------------------------------------------------------------------------------


class _Tally:
    """Counts the cells run and reports them in pytest's terminal summary."""

    def __init__(self) -> None:
        self.cells = self.allowed = self.denied = self.failed = 0

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.cells:
            terminalreporter.write_line(
                f"authorization matrix: {self.cells} cells ({self.allowed} allowed, {self.denied} denied, "
                f"{self.failed} failed) = {len(PRINCIPALS)} principals x {len(RESOURCES)} resources x "
                f"{len(SURFACES)} surfaces"
            )


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest) -> _Tally:
    found = request.config.pluginmanager.get_plugin("packyard-authorization-matrix")
    if found is None:
        found = _Tally()
        request.config.pluginmanager.register(found, "packyard-authorization-matrix")
    return found  # type: ignore[no-any-return]


def _id(cell: tuple[Principal, Resource, str]) -> str:
    p, r, s = cell
    return f"{p.key}|{r.key}|{s}"


@pytest.mark.parametrize("cell", CELLS, ids=[_id(c) for c in CELLS])
def test_cell(
    world: World, tally: _Tally, cell: tuple[Principal, Resource, str], record_property: Any
) -> None:
    p, r, surface = cell
    tally.cells += 1
    record_property("matrix_cells", len(CELLS))
    try:
        want = check_cell(world, p, r, surface)
    except BaseException:
        tally.failed += 1
        raise
    if want.allowed:
        tally.allowed += 1
    else:
        tally.denied += 1


def test_matrix_shape() -> None:
    """The rule table covers what the issue lists, and both outcomes occur on every surface."""
    print(f"authorization matrix: {len(CELLS)} cells")
    assert len(CELLS) == len(PRINCIPALS) * len(RESOURCES) * len(SURFACES) >= 1000
    for surface in SURFACES:
        outcomes = {expect(p, r, surface).allowed for p in PRINCIPALS for r in RESOURCES}
        assert outcomes == {True, False}, surface
    # Spot checks of the rules themselves, readable without the table.
    by_key = {p.key: p for p in PRINCIPALS}
    priv_org = Resource("org", "private")
    assert expect(by_key["read-group-member"], priv_org, "api-read").status == 200
    assert expect(by_key["read-group-member"], priv_org, "api-write").status == 403
    assert expect(by_key["unrelated-user"], priv_org, "api-read").like_missing
    assert expect(by_key["org-token[acme]"], Resource("user", "private"), "download").like_missing
    assert expect(by_key["owner-token[api:read]"], priv_org, "repodata").status == 403
    assert expect(by_key["anonymous"], Resource("user", "authenticated"), "list").listed is False
