"""Parts of the status page drawn once per settled request, language and time zone.

A settled request's fragments are final, so once drawn they are kept per worker process, keyed
by the record's id and ``updated_at`` (any change to the record moves it) and by the reader's
language and time zone (a fragment holds translated words and local times):

- the timeline, for every request that can no longer change;
- the whole live fragment (state, outcome, decisions, verification, timeline, details), for a
  request approved or rejected in Capillary or gone from the training sandbox: nothing in it
  depends on who reads it (no form, no choice to make), so the page reads neither its
  timeline nor its decisions from the database.

An open request's fragments are drawn afresh on every page.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable

from flask import current_app, render_template
from flask_babel import get_locale, get_timezone
from markupsafe import Markup

from models import TrackedRequest
from models.requests import SANDBOX_GONE
from services.lifecycle.refresh import is_live

TIMELINE_TEMPLATE = "requests/_timeline.html"
LIVE_TEMPLATE = "requests/_live.html"
# States whose live fragment offers nothing to do (no resend, retry, fix or decision) and
# shows the same to every reader who may see the request.
SETTLED_FOR_EVERYONE = frozenset({"approved", "rejected", SANDBOX_GONE})
# Per worker process: kept compressed (a live fragment of ~5 KB is ~1.5 KB), so a thousand or
# two settled requests fit; the least recently shown go first.
CACHE_BYTES = 2 * 1024 * 1024


class FragmentCache:
    """A small thread-safe least-recently-used map of rendered fragments, bounded in bytes."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes = max_bytes
        self.size_bytes = 0
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Markup | None:
        """Return the fragment kept under ``key`` (marking it recently used), or None."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
        # Kept only from Markup (see put): safe HTML as it was drawn.
        return Markup(zlib.decompress(found).decode("utf-8"))  # noqa: S704

    def put(self, key: Hashable, fragment: Markup) -> None:
        """Keep ``fragment`` under ``key``, dropping the least recently used beyond the byte budget."""
        packed = zlib.compress(str(fragment).encode("utf-8"), 1)
        with self._lock:
            previous = self._items.pop(key, None)
            if previous is not None:
                self.size_bytes -= len(previous)
            self._items[key] = packed
            self.size_bytes += len(packed)
            while self.size_bytes > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self.size_bytes -= len(dropped)


def kept(kind: str, record: TrackedRequest, draw: Callable[[], Markup]) -> Markup:
    """Return ``record``'s fragment ``kind`` as kept for this version, language and zone, drawing it once."""
    cache: FragmentCache = current_app.extensions.setdefault("fragment_cache", FragmentCache())
    key = (kind, record.id, record.updated_at, str(get_locale()), str(get_timezone()))
    fragment = cache.get(key)
    if fragment is None:
        fragment = draw()
        cache.put(key, fragment)
    return fragment


def timeline_html(record: TrackedRequest) -> Markup:
    """Return ``record``'s timeline fragment: kept once the request can no longer change."""
    if is_live(record):
        return _draw(TIMELINE_TEMPLATE, record=record)
    return kept("timeline", record, lambda: _draw(TIMELINE_TEMPLATE, record=record))


def live_html(record: TrackedRequest, context: Callable[[], dict]) -> Markup:
    """Return the live fragment of ``record``, drawn with ``context()`` unless kept (see above)."""
    if record.state in SETTLED_FOR_EVERYONE:
        return kept("live", record, lambda: _draw(LIVE_TEMPLATE, **context()))
    return _draw(LIVE_TEMPLATE, **context())


def _draw(template: str, **context) -> Markup:
    # The templates are autoescaped: their output is safe HTML, included as is in the page.
    return Markup(render_template(template, **context))  # noqa: S704
