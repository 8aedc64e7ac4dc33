"""Run the real packyard server as a subprocess for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import psycopg

REPO_ROOT = Path(__file__).resolve().parents[2]
SRC_DIR = REPO_ROOT / "src"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """``python -m packyard serve`` on 127.0.0.1 with its own data dir (and log file in it).

    Use as a context manager (starts on enter, stops on exit) or call start()/stop().
    create_user() works whether or not the server is running.
    """

    module = "packyard"  # run as ``python -m <module>``

    def __init__(
        self,
        data_dir: Path | str,
        database_url: str | None = None,
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_url = self.url + "/api"
        self.log_path = self.data_dir / "server.log"
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

        # Nothing from the outer environment may steer the server under test.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PACKYARD_")}
        env["PACKYARD_DATA_DIR"] = str(self.data_dir)
        if database_url is not None:
            env["PACKYARD_DATABASE_URL"] = database_url
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC_DIR), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra_env or {})
        self.env = env

    # -- CLI -----------------------------------------------------------------------------------
    def cli(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``python -m packyard ARGS`` with the server's environment."""
        proc = subprocess.run(
            [sys.executable, "-m", self.module, *args],
            env=self.env,
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"packyard {' '.join(args)} exited {proc.returncode}\n"
                f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
            )
        return proc

    def create_user(
        self, name: str, password: str, email: str | None = None, superuser: bool = False
    ) -> subprocess.CompletedProcess[str]:
        args = ["user", "create", name, "--password", password]
        if email is not None:
            args += ["--email", email]
        if superuser:
            args.append("--superuser")
        return self.cli(*args)

    # -- process -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> LiveServer:
        if self.running:
            raise RuntimeError("server already running")
        # Append, so logs from before a restart() or kill() stay readable.
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(f"\n===== start {time.strftime('%H:%M:%S')} port {self.port} =====\n".encode())
        self._log_file.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last_error = ""
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                self._close_log()
                raise RuntimeError(
                    f"server exited with {self.proc.returncode} during startup\n{self.log_text()}"
                )
            try:
                status = httpx.head(self.api_url, timeout=2, trust_env=False).status_code
                if status == 200:
                    return
                last_error = f"HEAD /api -> {status}"
            except httpx.HTTPError as exc:
                last_error = repr(exc)
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"server not ready after {self.startup_timeout}s ({last_error})\n{self.log_text()}"
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._close_log()

    def kill(self) -> None:
        """SIGKILL, no cleanup: for crash-recovery tests."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._close_log()

    def restart(self) -> LiveServer:
        self.stop()
        return self.start()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def blob_files(self) -> set[str]:
        """Every stored blob (relative path under blobs/), without the writers' temp folder."""
        root = self.data_dir / "blobs"
        return {
            str(q.relative_to(root))
            for q in root.rglob("*")
            if q.is_file() and q.relative_to(root).parts[0] != "tmp"
        }

    def tmp_files(self) -> list[str]:
        """What the blob writers' temp folder holds (a partial upload leaves a file here)."""
        tmp = self.data_dir / "blobs" / "tmp"
        return sorted(q.name for q in tmp.iterdir()) if tmp.exists() else []

    def log_text(self) -> str:
        if self._log_file is not None:
            self._log_file.flush()
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# -- PostgreSQL ------------------------------------------------------------------------------------
PG_HOST = "127.0.0.1"
PG_PORT = 5432


def _pg_admin_connect() -> tuple[psycopg.Connection[Any], str]:
    import psycopg

    errors = []
    for user in ("postgres", "root"):
        try:
            conn = psycopg.connect(
                f"postgresql://{user}@{PG_HOST}:{PG_PORT}/postgres", autocommit=True, connect_timeout=5
            )
            return conn, user
        except psycopg.OperationalError as exc:
            errors.append(f"{user}: {exc}")
    raise RuntimeError("cannot connect to PostgreSQL: " + "; ".join(errors))


def postgres_available() -> bool:
    try:
        conn, _ = _pg_admin_connect()
    except Exception:
        return False
    conn.close()
    return True


def fresh_postgres_url(dbname_prefix: str) -> str:
    """Create an empty, uniquely named database; return its SQLAlchemy (psycopg 3) URL."""
    from psycopg import sql

    safe = "".join(c if c.isalnum() else "_" for c in dbname_prefix.lower())[:40] or "packyard"
    name = f"{safe}_{uuid.uuid4().hex[:12]}"
    conn, user = _pg_admin_connect()
    with conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"postgresql+psycopg://{user}@{PG_HOST}:{PG_PORT}/{name}"


def drop_postgres_database(url: str) -> None:
    """Best-effort cleanup for a URL returned by fresh_postgres_url()."""
    from psycopg import sql

    name = url.rsplit("/", 1)[-1]
    conn, _ = _pg_admin_connect()
    with conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
