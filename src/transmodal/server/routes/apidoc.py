"""``GET /docs``: the OpenAPI document as a plain HTML page, built on the server.

FastAPI's default ``/docs`` loads Swagger UI from a CDN, which a clinic's offline machine cannot reach;
this page needs nothing but the server. The machine-readable document stays at ``/openapi.json``.
"""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter()
STYLE = """body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
h2{margin-top:2rem;border-bottom:1px solid #ccc}.op{margin:1rem 0;padding:.5rem 1rem;border-left:4px solid #2a6f97;
background:#f5f8fa}.m{font-weight:700;font-family:monospace;margin-right:.5rem}code{font-size:14px}
.d{white-space:pre-wrap;color:#333}small{color:#555}"""


def _schema_name(schema: dict) -> str:
    ref = schema.get("$ref") or (schema.get("items") or {}).get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else schema.get("type", "")


def _fields(spec: dict, name: str) -> str:
    props = spec.get("components", {}).get("schemas", {}).get(name, {}).get("properties", {})
    return ", ".join(f"{k}: {_schema_name(v) or '/'.join(_schema_name(x) for x in v.get('anyOf', []))}"
                     for k, v in props.items())


def render(spec: dict) -> str:
    """HTML listing every operation: method, path, summary, docstring, parameters, body fields, statuses."""
    parts = [f"<!doctype html><meta charset=utf-8><title>{html.escape(spec['info']['title'])} API</title>",
             f"<style>{STYLE}</style><h1>{html.escape(spec['info']['title'])}</h1>",
             f"<p>{html.escape(spec['info'].get('description', ''))} Machine-readable: "
             "<a href=/openapi.json>/openapi.json</a>. Errors are <code>{\"detail\": \"...\"}</code>; a malformed "
             "request gets 400 (where 422 is listed below, from FastAPI's defaults, read 400; 422 is used only "
             "for recordings that cannot be decoded).</p>"]
    groups: dict[str, list[str]] = {}
    for path, ops in spec.get("paths", {}).items():
        for method, op in ops.items():
            tag = (op.get("tags") or ["other"])[0]
            params = ", ".join(f"{p['name']} ({p['in']})" for p in op.get("parameters", []))
            body = op.get("requestBody", {}).get("content", {})
            body_txt = "; ".join(f"{ctype}: {_fields(spec, _schema_name(c.get('schema', {}))) or 'see docs/quiz-api.md'}"
                                 for ctype, c in body.items())
            statuses = ", ".join(sorted(op.get("responses", {})))
            parts_op = [f"<div class=op><span class=m>{method.upper()}</span><code>{html.escape(path)}</code>",
                        f" — {html.escape(op.get('summary', ''))}"]
            if op.get("description"):
                parts_op.append(f"<div class=d>{html.escape(op['description'])}</div>")
            if params:
                parts_op.append(f"<div><small>parameters:</small> {html.escape(params)}</div>")
            if body_txt:
                parts_op.append(f"<div><small>body:</small> {html.escape(body_txt)}</div>")
            parts_op.append(f"<div><small>responses:</small> {statuses}</div></div>")
            groups.setdefault(tag, []).append("".join(parts_op))
    for tag, ops in groups.items():
        parts.append(f"<h2>{html.escape(tag)}</h2>" + "".join(ops))
    return "".join(parts)


@router.get("/docs", include_in_schema=False)
def api_docs(request: Request) -> HTMLResponse:
    return HTMLResponse(render(request.app.openapi()))
