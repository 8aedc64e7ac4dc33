"""PyPI "simple" pages (PEP 503 HTML, PEP 691 JSON with PEP 700 fields, PEP 592, PEP 658/714) built from
file records serialized once at upload (pure functions)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any
from urllib.parse import quote

from packaging.version import InvalidVersion, Version

API_VERSION = "1.1"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"


def file_record(*, project: str, version: str, filename: str, sha256: str, size: int, upload_time: str,
                requires_python: str | None, metadata_sha256: str | None, yanked: bool | str = False
                ) -> dict[str, Any]:
    """The index entry of one file (what is stored and replayed into pages)."""
    return {"project": project, "version": version, "filename": filename, "sha256": sha256, "size": size,
            "upload-time": upload_time, "requires-python": requires_python, "metadata-sha256": metadata_sha256,
            "yanked": yanked}


def _version_key(v: str) -> tuple[int, Any]:
    try:
        return (1, Version(v))
    except InvalidVersion:
        return (0, v)


def _file_json(rec: Mapping[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "filename": rec["filename"],
        "url": "../../files/" + quote(rec["filename"]),
        "hashes": {"sha256": rec["sha256"]},
        "size": rec["size"],
        "upload-time": rec["upload-time"],
        "yanked": rec.get("yanked") or False,
    }
    if rec.get("requires-python"):
        entry["requires-python"] = rec["requires-python"]
    meta = {"sha256": rec["metadata-sha256"]} if rec.get("metadata-sha256") else False
    entry["core-metadata"] = meta
    entry["dist-info-metadata"] = meta
    return entry


def project_json(name: str, records: Iterable[Mapping[str, Any]]) -> bytes:
    recs = sorted(records, key=lambda r: (_version_key(r["version"]), r["filename"]))
    doc = {
        "meta": {"api-version": API_VERSION},
        "name": name,
        "versions": sorted({r["version"] for r in recs}, key=_version_key),
        "files": [_file_json(r) for r in recs],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def project_html(name: str, records: Iterable[Mapping[str, Any]]) -> bytes:
    recs = sorted(records, key=lambda r: (_version_key(r["version"]), r["filename"]))
    links = []
    for r in recs:
        attrs = [f'href="../../files/{escape(quote(r["filename"]))}#sha256={r["sha256"]}"']
        if r.get("requires-python"):
            attrs.append(f'data-requires-python="{escape(r["requires-python"])}"')
        if r.get("metadata-sha256"):
            value = f'sha256={r["metadata-sha256"]}'
            attrs.append(f'data-dist-info-metadata="{value}" data-core-metadata="{value}"')
        if r.get("yanked"):
            reason = r["yanked"] if isinstance(r["yanked"], str) else ""
            attrs.append(f'data-yanked="{escape(reason)}"')
        links.append(f'<a {" ".join(attrs)}>{escape(r["filename"])}</a><br/>')
    return (
        '<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="' + API_VERSION + '">'
        f"<title>Links for {escape(name)}</title></head><body><h1>Links for {escape(name)}</h1>"
        + "".join(links) + "</body></html>"
    ).encode()


def root_json(projects: Iterable[str]) -> bytes:
    doc = {"meta": {"api-version": API_VERSION}, "projects": [{"name": p} for p in sorted(projects)]}
    return json.dumps(doc, separators=(",", ":")).encode()


def root_html(projects: Iterable[str]) -> bytes:
    links = "".join(f'<a href="{escape(quote(p))}/">{escape(p)}</a><br/>' for p in sorted(projects))
    return (
        '<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="' + API_VERSION + '">'
        "<title>Simple index</title></head><body>" + links + "</body></html>"
    ).encode()


def choose_format(accept: str | None, fmt: str | None = None) -> str | None:
    """PEP 691 negotiation: "json", "html", or None (nothing acceptable → 406). ``q`` values decide."""
    chosen = negotiate(accept, fmt)
    return chosen[0] if chosen else None


def negotiate(accept: str | None, fmt: str | None = None) -> tuple[str, str] | None:
    """("json" | "html", the Content-Type to answer with), or None (406). ``*/*`` and no Accept get HTML as
    ``text/html`` (legacy clients and browsers; spec pypi.md §5); JSON only when asked for."""
    if fmt:
        accept = fmt
    if not accept:
        return "html", "text/html"
    best: tuple[float, bool, int, str, str] | None = None
    for i, part in enumerate(accept.split(",")):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        kind = {JSON_TYPE: "json", "application/vnd.pypi.simple.latest+json": "json", HTML_TYPE: "html",
                "application/vnd.pypi.simple.latest+html": "html", "text/html": "html",
                "*/*": "html"}.get(media)
        if kind is None or q <= 0:
            continue
        # At equal q a named type beats */* (RFC 9110 §12.5.1), then the first listed.
        content_type = JSON_TYPE if kind == "json" else HTML_TYPE if "pypi" in media else "text/html"
        rank = (q, media != "*/*", -i, kind, content_type)
        if best is None or rank[:3] > best[:3]:
            best = rank
    return (best[3], best[4]) if best else None
