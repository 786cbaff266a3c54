"""The web page at `/`: one HTML file and two assets shipped in the package, no CDN, no build step.

Assets are addressed as `/static/<name>?v=<content hash>`, so they can be cached for a year and a
new release still reaches every browser: the page (never cached) names the new hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Response
from fastapi import Path as PathParam

router = APIRouter(include_in_schema=False)

_MEDIA_TYPES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
_IMMUTABLE = "public, max-age=31536000, immutable"
# The page only ever talks to this origin; the policy makes any stray third-party request fail loudly.
_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    digest: str


def _read(name: str) -> bytes:
    return (resources.files("lensflow.serve") / "static" / name).read_bytes()


@cache
def asset(name: str) -> Asset:
    body = _read(name)
    return Asset(body=body, digest=hashlib.sha256(body).hexdigest()[:16])


@cache
def page() -> bytes:
    """index.html with each asset reference pinned to the asset's content hash."""
    html = _read("index.html").decode()
    for name in _MEDIA_TYPES:
        html = html.replace(f'"/static/{name}"', f'"/static/{name}?v={asset(name).digest}"')
    return html.encode()


@router.api_route("/", methods=["GET", "HEAD"])
async def index() -> Response:
    return Response(page(), media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
async def static_asset(
    name: Annotated[str, PathParam()],
    v: Annotated[str | None, Query(max_length=64)] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    if name not in _MEDIA_TYPES:
        raise HTTPException(404, f"no static asset named {name!r}")
    found = asset(name)
    etag = f'"{found.digest}"'
    # Only a URL naming this exact content may be cached forever; any other must be revalidated.
    cache_control = _IMMUTABLE if v == found.digest else "no-cache"
    headers = {"Cache-Control": cache_control, "ETag": etag, "X-Content-Type-Options": "nosniff"}
    if if_none_match == etag:
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=_MEDIA_TYPES[name], headers=headers)
