"""Jupyter notebooks: validate once at upload and render to HTML that cannot run script in a reader's
browser. Rendering is nbconvert's; sanitizing is nh3's (ammonia), with an allow-list: anything not on it
(script, event handlers, javascript: URLs, iframes, SVG, forms) is dropped."""

from __future__ import annotations

import json
import re

import nbformat
import nh3

from packyard.errors import InvalidInput

_MAX_NOTEBOOK = 64 * 1024 * 1024
_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
_ATTRIBUTES = {
    "*": {"class", "id", "title", "lang", "dir"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
}
_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]+$")


def _attribute_filter(element: str, attribute: str, value: str) -> str | None:
    # Plots are embedded as data: URLs; allow exactly raster images there and nothing else (no data: link).
    if value.lstrip().lower().startswith("data:"):
        return value if element == "img" and attribute == "src" and _DATA_IMAGE.match(value) else None
    return value


def read_notebook(data: bytes) -> nbformat.NotebookNode:
    """Parse and validate a notebook; raise ``InvalidInput`` saying why it is not one."""
    if len(data) > _MAX_NOTEBOOK:
        raise InvalidInput(f"notebook is larger than {_MAX_NOTEBOOK} bytes")
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(nb)
    except (UnicodeDecodeError, json.JSONDecodeError, nbformat.ValidationError, KeyError, TypeError,
            AttributeError, ValueError) as exc:  # ValueError: nbformat's NotJSONError and NBFormatError
        raise InvalidInput(f"not a valid Jupyter notebook: {str(exc).splitlines()[0][:300]}") from None
    return nb


def render_notebook(nb: nbformat.NotebookNode) -> str:
    """The notebook as a sanitized HTML fragment."""
    from nbconvert import HTMLExporter  # heavy import (~1 s): only when a notebook is uploaded

    exporter = HTMLExporter(template_name="basic")
    exporter.exclude_input_prompt = False
    # nbconvert's own clean_html (bleach) shows refused markup as escaped text; nh3 below is the one
    # sanitizer, and it drops such markup instead.
    exporter.register_filter("clean_html", lambda e: e.decode() if isinstance(e, bytes) else str(e))
    body, _ = exporter.from_notebook_node(nb)
    return nh3.clean(
        body,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "data"},
        attribute_filter=_attribute_filter,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def notebook_summary(nb: nbformat.NotebookNode) -> str | None:
    meta = nb.get("metadata", {})
    summary = meta.get("summary") or meta.get("title")
    return str(summary)[:500] if summary else None
