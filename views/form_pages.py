"""Form pages that can be shown again with what the person typed.

When a form post cannot be accepted because the page expired (a CSRF failure) or the session
ended (idle timeout, browser restart), nothing the person typed should be lost. Each page
registers a renderer here: ``renderer(formdata, notice, args)`` draws the page again from
``formdata`` (``args`` are the URL's view arguments, e.g. ``{"pk": 12}``) without acting on
it. The CSRF error handler (views/errors.py) uses it at once; the sign-in page carries the
values and the form's address through sign-in and uses it afterwards (views/auth.py).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

Renderer = Callable[[MultiDict, str, dict], object]

EXPIRED = "expired"  # the page's CSRF token was refused
RESUMED = "resumed"  # shown again after signing in

_RENDERERS: dict[str, Renderer] = {}
# Never carried through the sign-in page or echoed back: secrets and one-shot values.
_NOT_CARRIED = ("csrf_token", "password", "token", "current", "new", "confirm")


def register(*endpoints: str) -> Callable[[Renderer], Renderer]:
    """Register the decorated function as the renderer of the form posted to ``endpoints``."""

    def decorator(renderer: Renderer) -> Renderer:
        for endpoint in endpoints:
            _RENDERERS[endpoint] = renderer
        return renderer

    return decorator


def renderer_for(endpoint: str | None) -> Renderer | None:
    """Return the renderer for a form posted to ``endpoint``, if one is registered."""
    return _RENDERERS.get(endpoint or "")


def resolve(path: str | None) -> tuple[str, Renderer, dict] | None:
    """Find ``(endpoint, renderer, view args)`` for a form posted to ``path`` on this site."""
    if not path or not path.startswith("/") or path.startswith("//"):
        return None
    try:
        endpoint, args = current_app.url_map.bind_to_environ(request.environ).match(path, method="POST")
    except (HTTPException, AttributeError):
        return None
    renderer = _RENDERERS.get(endpoint)
    return (endpoint, renderer, dict(args)) if renderer else None


def carried_values(formdata: MultiDict) -> list[tuple[str, str]]:
    """The posted values that may be carried through the sign-in page (no secrets)."""
    return [(name, value) for name, value in formdata.items(multi=True)
            if name not in _NOT_CARRIED and len(value) <= 5000]
