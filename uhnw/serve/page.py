"""The RM workstation page of `uhnw serve api`: `GET /` serves `static/index.html`, `GET /static/{name}` the page's own
files (HTML, JS modules, CSS, icon) and `GET /static/plotly.min.js` the plotly.js bundled in the plotly Python package,
so the page loads no script from another origin (the app's Content-Security-Policy allows scripts from 'self' only).

The page holds no data of its own: it reads `/api/*` with the session cookie set by `POST /auth/login`, listens to
`/ws` for live alerts, and sends feedback with the CSRF token from the login answer or `GET /api/me`.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

__all__ = ["STATIC", "CONTENT_TYPES", "plotly_js", "router"]

router = APIRouter(tags=["page"], include_in_schema=False)  # not part of the API: /openapi.json describes /api/* only
STATIC = Path(__file__).with_name("static")
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".svg": "image/svg+xml"}
PLOTLY = "plotly.min.js"
# The page's files may change with every deploy: the browser revalidates them. plotly.js changes only with the package.
REVALIDATE, ONE_DAY = {"cache-control": "no-cache"}, {"cache-control": "public, max-age=86400"}


def plotly_js() -> Path:
    "The plotly.js bundle shipped inside the installed plotly Python package (the same version plotly.py's figures target)."
    path = Path(str(resources.files("plotly") / "package_data" / PLOTLY))
    if not path.is_file(): raise FileNotFoundError(f"{path} is missing: reinstall the plotly package (`uv sync`)")
    return path


@router.get("/")
def index() -> FileResponse:
    "The workstation page."
    return FileResponse(STATIC / "index.html", media_type=CONTENT_TYPES[".html"], headers=REVALIDATE)


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    "One of the page's files: only a file directly in `static/` with a known type; plotly.js from the plotly package."
    if name == PLOTLY:
        return FileResponse(plotly_js(), media_type=CONTENT_TYPES[".js"], headers=ONE_DAY)
    served = {p.name: p for p in STATIC.iterdir() if p.is_file() and p.suffix in CONTENT_TYPES}
    if name not in served: raise HTTPException(404, f"no static file {name!r}")
    path = served[name]
    return FileResponse(path, media_type=CONTENT_TYPES[path.suffix], headers=REVALIDATE)
