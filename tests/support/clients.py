"""Real clients driven from tests: the anaconda CLI (anaconda-client 1.16.0) and py-rattler."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote_plus

RATTLER_SCRIPT = Path(__file__).with_name("rattler_script.py")

# Inherited variables that would change which CLI, site, token or config the anaconda client uses.
_ANACONDA_ENV_DROP = (
    "BINSTAR_API_TOKEN",
    "ANACONDA_API_TOKEN",
    "ANACONDA_CLIENT_FORCE_STANDALONE",
    "ANACONDA_CLIENT_LEGACY_INTERACTIVE_LOGIN",
    "BINSTAR_CONFIG_DIR",
    "CONDA_PREFIX",
    "CONDA_ROOT",
)


def _check(proc: subprocess.CompletedProcess[str], what: str) -> None:
    if proc.returncode != 0:
        raise AssertionError(
            f"{what} exited {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )


def anaconda_executable() -> str:
    beside = Path(sys.executable).with_name("anaconda")
    if beside.exists():
        return str(beside)
    found = shutil.which("anaconda")
    if found is None:
        raise RuntimeError("the `anaconda` executable (anaconda-client) is not installed")
    return found


class AnacondaCLI:
    """One simulated anaconda-client user with its own HOME (config and token files live there)."""

    def __init__(self, home: Path | str, executable: Path | str | None = None) -> None:
        self.executable = str(executable) if executable is not None else anaconda_executable()
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.api_url: str | None = None
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in _ANACONDA_ENV_DROP and not k.startswith(("ANACONDA_", "BINSTAR_"))
        }
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_DATA_HOME=str(self.home / ".local" / "share"),
            XDG_CACHE_HOME=str(self.home / ".cache"),
            OTEL_SDK_DISABLED="true",
            ANACONDA_TELEMETRY_ENABLED="false",
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
        )
        self.env = env

    def run(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = 120,
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **(extra_env or {})}
        proc = subprocess.run(
            [self.executable, *args],
            env=env,
            cwd=self.home,
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check:
            _check(proc, "anaconda " + " ".join(args))
        return proc

    def configure(self, api_url: str) -> subprocess.CompletedProcess[str]:
        # The first `config --set` in a fresh HOME logs a harmless traceback (spec §9); judge by exit code.
        self.api_url = api_url
        return self.run("config", "--set", "url", api_url)

    def login(self, user: str, password: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("login", "--username", user, "--password", password, check=check)

    def logout(self, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("org", "logout", check=check)

    def auth_create(self, name: str, scopes: str, password: str) -> str:
        """`anaconda org auth --create`; the token is the whole of stdout (spec §9)."""
        proc = self.run(
            "org", "auth", "--create", "--name", name, "--scopes", scopes,
            input=password + "\n",
            extra_env={"ANACONDA_CLIENT_LEGACY_INTERACTIVE_LOGIN": "1"},
        )  # fmt: skip
        return proc.stdout.strip()

    def token_paths(self, api_url: str | None = None) -> list[Path]:
        url = (api_url or self.api_url or "").rstrip("/")
        if not url:
            raise ValueError("configure() first or pass api_url")
        fname = quote_plus(url) + ".token"
        return [
            self.home / ".continuum" / "anaconda-client" / "tokens" / fname,
            self.home / ".config" / "binstar" / fname,
        ]

    def token(self, api_url: str | None = None) -> str | None:
        """The token stored by `login` for the configured url, or None."""
        for path in self.token_paths(api_url):
            if path.exists():
                return path.read_text().strip()
        return None


# -- py-rattler ------------------------------------------------------------------------------------
class RattlerRecord(NamedTuple):
    name: str
    version: str
    build: str
    url: str


def _rattler_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    return env


def _run_rattler(mode: str, args: dict[str, object], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RATTLER_SCRIPT), mode, json.dumps(args)],
        env=_rattler_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def rattler_install(
    channels: Sequence[str],
    specs: Sequence[str],
    prefix: Path | str,
    platforms: Sequence[str] = ("linux-64", "noarch"),
    *,
    cache_dir: Path | str,
    cache_action: str = "no-cache",
    headers: dict[str, str] | None = None,
    solve_only: bool = False,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Solve and install into ``prefix`` in a subprocess; judge by rattler_records()/rattler_installed().

    ``headers`` (e.g. ``{"Authorization": "token X"}``) are sent on every request; a token can also
    go in the channel URL as ``.../t/<TOKEN>/<channel>``.
    """
    return _run_rattler(
        "install",
        {
            "channels": list(channels),
            "specs": list(specs),
            "prefix": str(prefix),
            "platforms": list(platforms),
            "cache_dir": str(cache_dir),
            "cache_action": cache_action,
            "headers": headers,
            "solve_only": solve_only,
        },
        timeout,
    )


def rattler_fetch_repodata(
    channel: str,
    subdir: str,
    cache_dir: Path | str,
    cache_action: str = "cache-or-fetch",
    *,
    passes: int = 2,
    method: str = "fetch_repo_data",
    headers: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Fetch one subdir's repodata ``passes`` times with the same cache dir (a fresh client each pass).

    ``method="fetch_repo_data"`` uses the monolithic repodata.json(.zst/.bz2);
    ``method="gateway"`` uses Gateway.names(), which tries sharded repodata first.
    Output: ``NAMES <pass> <names...>`` lines; see rattler_names().
    """
    return _run_rattler(
        "fetch",
        {
            "channel": channel,
            "subdir": subdir,
            "cache_dir": str(cache_dir),
            "cache_action": cache_action,
            "passes": passes,
            "method": method,
            "headers": headers,
        },
        timeout,
    )


def rattler_records(proc: subprocess.CompletedProcess[str]) -> list[RattlerRecord]:
    return [
        RattlerRecord(*line.split(" ", 4)[1:])
        for line in proc.stdout.splitlines()
        if line.startswith("RECORD ")
    ]


def rattler_installed(proc: subprocess.CompletedProcess[str]) -> bool:
    return "INSTALLED" in proc.stdout.splitlines()


def rattler_error(proc: subprocess.CompletedProcess[str]) -> str | None:
    """The text after "ERROR " (may span several lines), or None."""
    lines = proc.stdout.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("ERROR "):
            return "\n".join([line[len("ERROR ") :], *lines[i + 1 :]])
    return None


def rattler_names(proc: subprocess.CompletedProcess[str]) -> dict[int, list[str]]:
    """{pass number: package names} from rattler_fetch_repodata output."""
    out: dict[int, list[str]] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("NAMES "):
            parts = line.split()
            out[int(parts[1])] = parts[2:]
    return out


def python_tools_env(**extra: str) -> dict[str, str]:
    """The environment for pip, uv, twine and venvs: nothing inherited (this machine has a global pip config
    with find-links) may point them at another index or config."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "TWINE_", "VIRTUAL_ENV", "CONDA_", "PYTHONPATH"))
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INPUT="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        TWINE_NON_INTERACTIVE="1",
        UV_PYTHON_DOWNLOADS="never",
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    env.update(extra)
    return env
