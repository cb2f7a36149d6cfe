"""The app plus one bench-only route, ``/_bench/bare?bytes=N``: a template render with no database work.

Used by bench/throughput.py as the "bare Flask route in the same server": the same app, the same
before/after-request hooks (sign-in, headers), the same gunicorn workers; only the view differs.
Never imported by the app itself.

    gunicorn -w 2 "bench.bare_app:create()"
"""

from __future__ import annotations

from flask import render_template_string, request

from app import create_app

_PAGE = "<!doctype html><html lang=en><title>bare</title><pre>{{ filler }}</pre></html>"


def create():
    """Build the app and add the bare route."""
    app = create_app()
    overhead = len(_PAGE.replace("{{ filler }}", "").encode())

    @app.get("/_bench/bare")
    def bench_bare():
        size = max(request.args.get("bytes", 0, type=int) - overhead, 0)
        return render_template_string(_PAGE, filler="x" * min(size, 10_000_000))

    return app
