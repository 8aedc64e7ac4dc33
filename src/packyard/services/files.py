"""What every way of adding a file shares: its labels, its index entries, its package's types, and the
index record of a Python file."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable

from sqlalchemy.orm import Session

import yaml

from packyard.domain import names
from packyard.domain.notebooks import notebook_summary, read_notebook, render_notebook
from packyard.domain.python_meta import PythonArtifact
from packyard.domain.simple_index import file_record
from packyard.errors import InvalidInput
from packyard.services import indexing
from packyard.storage.blobs.base import BlobStore
from packyard.storage.db import repositories as repo
from packyard.storage.db.models import File, FileLabel, Label, Owner, Package


def attach(s: Session, owner: Owner, package: Package, file: File, labels: Iterable[str]) -> None:
    """Add a new file under its labels (created on first use; a locked label refuses) and list it in its
    indexes, in the caller's transaction."""
    labels = list(labels) or ["main"]
    s.add(file)
    s.flush()
    for label_name in labels:
        label = label_for(s, owner, label_name)
        if label.is_locked:
            raise InvalidInput(f"label {label_name!r} is locked; unlock it to upload into it")
        s.add(FileLabel(file_id=file.id, label_id=label.id))
    s.flush()
    s.expire(file, ["labels"])
    indexing.publish(s, file, labels)
    if file.type not in (package.package_types or []):
        package.package_types = sorted({*(package.package_types or []), file.type})


def label_for(s: Session, owner: Owner, name: str) -> Label:
    """The namespace's label of that name, created on first use."""
    names.check_label(name)
    return repo.label(s, owner.id, name) or repo.ensure_label(s, owner.id, name)


def fill_python(file: File, art: PythonArtifact, blobs: BlobStore) -> None:
    """Record a wheel's or sdist's index entry; its core metadata is stored as a blob for PEP 658."""
    metadata_sha = blobs.put(io.BytesIO(art.metadata)).sha256 if art.metadata is not None else None
    file.record = indexing_record(file, art, metadata_sha)
    file.attrs = {"packagetype": art.filetype, "python_version": art.pyversion,
                  "requires_python": art.requires_python, "metadata_sha256": metadata_sha}


def indexing_record(file: File, art: PythonArtifact, metadata_sha: str | None) -> str:
    rec = file_record(project=art.name, version=art.version, filename=file.filename, sha256=file.sha256,
                      size=file.size, upload_time=file.upload_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                      requires_python=art.requires_python, metadata_sha256=metadata_sha)
    return json.dumps(rec, separators=(",", ":"), sort_keys=True)


_MAX_TEXT_FILE = 16 * 1024 * 1024


def _read_small(file: File, blobs: BlobStore, what: str) -> bytes:
    if file.size > _MAX_TEXT_FILE:
        raise InvalidInput(f"{what} is larger than {_MAX_TEXT_FILE} bytes")
    with blobs.open(file.sha256) as fh:
        return fh.read()


def fill_notebook(file: File, blobs: BlobStore) -> None:
    """Validate a notebook and keep its sanitized HTML (rendered once, here) as a blob."""
    nb = read_notebook(_read_small(file, blobs, "notebook"))
    html = render_notebook(nb).encode()
    file.attrs = {**(file.attrs or {}), "html_sha256": blobs.put(io.BytesIO(html)).sha256,
                  "summary": notebook_summary(nb)}


def check_environment(file: File, blobs: BlobStore) -> None:
    """An environment file must be a YAML mapping (what `conda env create` reads)."""
    try:
        doc = yaml.safe_load(_read_small(file, blobs, "environment file"))
    except yaml.YAMLError as exc:
        raise InvalidInput(f"not a valid environment file: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("dependencies", []), list):
        raise InvalidInput("not a valid environment file: expected a mapping with a 'dependencies' list")
    file.attrs = {**(file.attrs or {}), "env_name": doc.get("name"),
                  "channels": [str(c) for c in doc.get("channels") or []]}
