"""py-rattler driver, run in a subprocess by tests/support/clients.py.

Usage: python rattler_script.py install|fetch '<json args>'

py-rattler 0.28 sometimes crashes while the interpreter finalises, after all work is done, so
every path ends in os._exit() after flushing and the caller judges by the printed lines:
  install: "RECORD <name> <version> <build> <url>" per record, then "INSTALLED"
  fetch:   "NAMES <pass> <name> <name> ..." per pass, then "DONE"
  failure: "ERROR <stage>: <ExceptionType>: <message>" and exit code 1
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
from typing import Any


def _client(headers: dict[str, str] | None) -> Any:
    if not headers:
        return None
    from rattler.networking import AddHeadersMiddleware, Client

    return Client([AddHeadersMiddleware(lambda host, path: dict(headers))])


def _fail(stage: str, exc: BaseException) -> None:
    print(f"ERROR {stage}: {type(exc).__name__}: {exc}", flush=True)
    traceback.print_exc(file=sys.stderr)
    sys.stderr.flush()
    os._exit(1)


async def _install(args: dict[str, Any]) -> None:
    from rattler import Gateway, SourceConfig, install, solve

    client = _client(args.get("headers"))
    gateway = Gateway(
        cache_dir=os.path.join(args["cache_dir"], "repodata"),
        default_config=SourceConfig(cache_action=args.get("cache_action", "no-cache")),
        client=client,
    )
    try:
        records = await solve(
            sources=args["channels"], specs=args["specs"], platforms=args["platforms"], gateway=gateway
        )
    except Exception as exc:
        _fail("solve", exc)
    for r in records:
        print(f"RECORD {r.name.normalized} {r.version} {r.build} {r.url}", flush=True)
    if args.get("solve_only"):
        return
    try:
        await install(
            records,
            target_prefix=args["prefix"],
            cache_dir=os.path.join(args["cache_dir"], "pkgs"),
            show_progress=False,
            client=client,
        )
    except Exception as exc:
        _fail("install", exc)
    print("INSTALLED", flush=True)


async def _fetch(args: dict[str, Any]) -> None:
    from rattler import Channel, Gateway, SourceConfig, Subdir, fetch_repo_data
    from rattler.networking.fetch_repo_data import FetchRepoDataOptions

    client = _client(args.get("headers"))
    for n in range(1, int(args.get("passes", 2)) + 1):
        try:
            if args.get("method", "fetch_repo_data") == "gateway":
                # A new Gateway per pass: one Gateway also caches in memory and would not re-request.
                gateway = Gateway(
                    cache_dir=args["cache_dir"],
                    default_config=SourceConfig(cache_action=args["cache_action"]),
                    client=client,
                )
                names = sorted(p.normalized for p in await gateway.names([args["channel"]], [args["subdir"]]))
            else:
                sparse = await fetch_repo_data(
                    channels=[Channel(args["channel"])],
                    platforms=[Subdir(args["subdir"])],
                    cache_path=args["cache_dir"],
                    callback=None,
                    client=client,
                    fetch_options=FetchRepoDataOptions(cache_action=args["cache_action"]),
                )
                names = sorted({name for s in sparse for name in s.package_names()})
        except Exception as exc:
            _fail(f"fetch pass {n}", exc)
        print(" ".join(["NAMES", str(n), *names]), flush=True)
    print("DONE", flush=True)


def main() -> None:
    mode, raw = sys.argv[1], sys.argv[2]
    args = json.loads(raw)
    try:
        asyncio.run(_install(args) if mode == "install" else _fetch(args))
    except Exception as exc:  # anything not already reported
        _fail(mode, exc)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
