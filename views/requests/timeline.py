"""The status page's timeline, drawn once per decided request, language and time zone.

A decided request's timeline is final, so its rendered fragment is kept per worker process,
keyed by the record's id and ``updated_at`` (any change to the record moves it) and by the
reader's language and time zone (the fragment holds translated words and local times). An
open request's timeline is drawn afresh on every page.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from flask import current_app, render_template
from flask_babel import get_locale, get_timezone
from markupsafe import Markup

from models import TrackedRequest
from services.lifecycle.refresh import is_live

TEMPLATE = "requests/_timeline.html"
# A few hundred bytes each: 2,000 decided requests' timelines cost well under a megabyte.
CACHE_SIZE = 2000


class FragmentCache:
    """A small thread-safe least-recently-used map of rendered fragments."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self._items: OrderedDict[Hashable, Markup] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Markup | None:
        """Return the fragment kept under ``key`` (marking it recently used), or None."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Hashable, fragment: Markup) -> None:
        """Keep ``fragment`` under ``key``, dropping the least recently used beyond the size."""
        with self._lock:
            self._items[key] = fragment
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def timeline_html(record: TrackedRequest) -> Markup:
    """Return ``record``'s timeline fragment: from the cache when the request is decided."""
    if is_live(record):
        return _draw(record)
    cache: FragmentCache = current_app.extensions.setdefault("timeline_cache", FragmentCache())
    key = (record.id, record.updated_at, str(get_locale()), str(get_timezone()))
    fragment = cache.get(key)
    if fragment is None:
        fragment = _draw(record)
        cache.put(key, fragment)
    return fragment


def _draw(record: TrackedRequest) -> Markup:
    # The template is autoescaped: its output is safe HTML, included as is in the page.
    return Markup(render_template(TEMPLATE, record=record))  # noqa: S704
