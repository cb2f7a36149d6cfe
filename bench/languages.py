"""What two languages cost a page: the same pages rendered in English and in Spanish.

In-process (Flask test client, SQLite, the embedded sandbox), a signed-in support agent loads
a status page, the history and the request form, interleaving English and Spanish (a ``lang``
cookie) and a browser time zone (``tz``) sample by sample, so a busy moment hits both alike.
English has no catalog (the msgids are the English), so its lookups find nothing; Spanish ones
find every text and format times and numbers for ``es``: the ratio is what a translated page
costs over an untranslated one. Target: Spanish within 1.10× of English at the median.

    .venv/bin/python -m bench.languages            # ~30 s; -n samples per page and language
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from bench import _common as c

PAGES = ("status", "history", "form")
TARGET = 1.10


def _app(folder: Path):
    from app import create_app

    return create_app({
        "TESTING": True, "WTF_CSRF_ENABLED": False, "SCHEMA_SETUP": "create_all",
        "ENVIRON": {"DATABASE_URL": f"sqlite:///{folder / 'languages.sqlite3'}"},
    })


def _client(app, language: str):
    from services.people import accounts

    client = app.test_client()
    demo = next(d for d in accounts.DEMO_USERS if d.username == "agent")
    answer = client.post("/login", data={"username": demo.username, "password": demo.password})
    assert answer.status_code == 303, "could not sign in"
    client.set_cookie("lang", language)
    client.set_cookie("tz", "Europe/Madrid")
    return client


def run() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="samples per page and language")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        app = _app(Path(folder))
        clients = {language: _client(app, language) for language in ("en", "es")}
        created = clients["en"].post("/requests", data={**c.FORM, "submission_key": "b" * 32})
        paths = {"status": created.headers["Location"], "history": "/requests", "form": "/requests/new"}
        for client in clients.values():  # warm-up: templates compiled, catalogs loaded
            for path in paths.values():
                assert client.get(path).status_code == 200
        samples = {(page, language): [] for page in PAGES for language in clients}
        for _ in range(args.n):
            order = [(page, language) for page in PAGES for language in clients]
            random.shuffle(order)
            for page, language in order:
                started = time.perf_counter()
                response = clients[language].get(paths[page])
                samples[(page, language)].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200 and f'<html lang="{language}">' in response.get_data(as_text=True)

    rows, result, worst = [], {}, 0.0
    for page in PAGES:
        english, spanish = c.summary(samples[(page, "en")]), c.summary(samples[(page, "es")])
        ratio = spanish["median_ms"] / english["median_ms"]
        worst = max(worst, ratio)
        result[page] = {"en": english, "es": spanish, "ratio_median": round(ratio, 3)}
        rows.append([page, english["median_ms"], spanish["median_ms"], english["p95_ms"], spanish["p95_ms"],
                     f"{ratio:.3f}"])
    c.print_table(["page", "en median ms", "es median ms", "en p95", "es p95", "es ÷ en"], rows)
    met = worst <= TARGET
    print(f"\nworst Spanish ÷ English at the median: {worst:.3f} (target <= {TARGET}: {'met' if met else 'MISSED'})")
    path = c.write_result("languages", {"samples_per_page_and_language": args.n, "pages": result,
                                        "worst_ratio_median": round(worst, 3), "target": TARGET, "met": met})
    print(f"results in {path.relative_to(c.ROOT)}")
    return 0 if met else 1


if __name__ == "__main__":
    c.main_guard(run)
