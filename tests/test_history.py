"""History: filters, identifier search, sorting, keyset pages, capped count, CSV export, index use."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, insert, select, text

from extensions import db
from models import TrackedRequest
from services.lifecycle import history
from tests.helpers import make_app
from tests.lifecycle_helpers import submit


def _statements_of(call):
    """Run ``call`` in the app context; return its result and the (SQL, parameters) it sent."""
    ran = []

    def catch(conn, cursor_, statement, parameters, context, executemany):
        ran.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", catch)
    try:
        return call(), ran
    finally:
        event.remove(db.engine, "before_cursor_execute", catch)

BASE = datetime(2024, 5, 1, 12, 0, 0)


def _fill(app, rows: list[dict]) -> None:
    defaults = {
        "state": "AdminTask", "origin": "app", "till_id": "T1", "store_id": "S1", "zone_id": "Z1",
        "concept_id": "C1", "identifier_name": "mobile", "identifier_value": "919780375690",
        "label": "Suspended", "reason": "Test", "source": "INSTORE", "account_id": "", "use_async": False,
        "request_type": "customer-status-change",
    }
    with app.app_context():
        db.session.execute(insert(TrackedRequest), [
            {**defaults, "submission_key": f"k{n:031d}", "created_at": BASE + timedelta(minutes=n),
             "updated_at": BASE + timedelta(minutes=n), **row}
            for n, row in enumerate(rows)
        ])
        db.session.commit()


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<td[^>]*><a href="/requests/(\d+)">', html)]


@pytest.fixture
def mixed(app):
    rows = []
    for n in range(40):
        rows.append({
            "state": ("AdminTask", "approved", "rejected", "failed")[n % 4],
            "store_id": "S1" if n < 20 else "S2",
            "label": "Suspended" if n % 2 else "Active",
            "submitted_by": "asha" if n % 5 == 0 else "ravi",
            "identifier_value": f"9197803756{n:02d}",
            "origin": "imported" if n == 39 else "app",
        })
    _fill(app, rows)
    return rows


@pytest.mark.parametrize(("query", "expected"), [
    ("state=approved", lambda n, r: r["state"] == "approved"),
    ("store=S2", lambda n, r: r["store_id"] == "S2"),
    ("label=Active&state=AdminTask", lambda n, r: r["label"] == "Active" and r["state"] == "AdminTask"),
    ("submitted_by=asha", lambda n, r: r["submitted_by"] == "asha"),
    ("origin=imported", lambda n, r: n == 39),
    ("date_from=2024-05-01&date_to=2024-05-01", lambda n, r: True),
    ("date_from=2024-05-02", lambda n, r: False),
    ("q=919780375607", lambda n, r: n == 7),
    ("q=%2B91+97803+75607", lambda n, r: n == 7),  # typed with + and spaces: normalised
    ("q=9780375607", lambda n, r: n == 7),  # without the country code
])
def test_filters_return_exactly_the_matching_requests(app, client, mixed, query, expected):
    wanted = [n + 1 for n, row in enumerate(mixed) if expected(n, row)]
    html = client.get(f"/requests?{query}").get_data(as_text=True)
    assert sorted(_ids(html)) == wanted[-25:]  # the newest 25 on the first page
    count = len(wanted)
    assert (f"{count} request matches" if count == 1 else f"{count} requests match") in html


def test_date_range_uses_utc_days_when_the_browser_gives_no_zone(app, client):
    _fill(app, [{"created_at": datetime(2024, 6, 1, 0, 0)}, {"created_at": datetime(2024, 6, 1, 23, 59)},
                {"created_at": datetime(2024, 6, 2, 0, 0)}])
    html = client.get("/requests?date_from=2024-06-01&date_to=2024-06-01").get_data(as_text=True)
    assert sorted(_ids(html)) == [1, 2]


def test_date_range_uses_the_days_of_the_persons_time_zone(app, client):
    # Kolkata is UTC+05:30: its 1 June runs from 31 May 18:30 to 1 June 18:30 UTC.
    _fill(app, [{"created_at": datetime(2024, 5, 31, 18, 29)}, {"created_at": datetime(2024, 5, 31, 18, 30)},
                {"created_at": datetime(2024, 6, 1, 18, 29)}, {"created_at": datetime(2024, 6, 1, 18, 30)}])
    client.set_cookie("tz", "Asia/Kolkata")
    html = client.get("/requests?date_from=2024-06-01&date_to=2024-06-01").get_data(as_text=True)
    assert sorted(_ids(html)) == [2, 3]


def test_sorting_and_keyset_pages_cover_every_record_once(app, client):
    _fill(app, [{"reason": f"r{n}"} for n in range(60)])
    seen, url, pages = [], "/requests?sort=oldest", 0
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += _ids(html)
        pages += 1
        found = re.search(r'href="([^"]+)" rel="next"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
        assert "sort=oldest" in (url or "sort=oldest")  # filters and sort survive paging
    assert pages == 3 and seen == list(range(1, 61))

    newest = _ids(client.get("/requests").get_data(as_text=True))
    assert newest == list(range(60, 35, -1))
    html = client.get("/requests").get_data(as_text=True)
    second_url = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    second = client.get(second_url).get_data(as_text=True)
    assert _ids(second) == list(range(35, 10, -1))
    back_url = re.search(r'href="([^"]+)" rel="prev"', second).group(1).replace("&amp;", "&")
    assert _ids(client.get(back_url).get_data(as_text=True)) == newest


def test_records_sharing_a_timestamp_are_neither_skipped_nor_repeated(app):
    _fill(app, [{"created_at": BASE} for _ in range(7)])
    with app.app_context():
        seen, after = [], None
        while True:
            page = history.page(history.Filters(), viewer=None, after=after, size=3)
            seen += [r.id for r in page.records]
            if not page.next_cursor:
                break
            after = page.next_cursor
    assert seen == [7, 6, 5, 4, 3, 2, 1]


def test_updated_sort(app, client):
    _fill(app, [{"updated_at": BASE + timedelta(days=5 - n)} for n in range(5)])
    assert _ids(client.get("/requests?sort=updated").get_data(as_text=True)) == [1, 2, 3, 4, 5]
    assert _ids(client.get("/requests?sort=updated_oldest").get_data(as_text=True)) == [5, 4, 3, 2, 1]


def test_count_is_capped_instead_of_scanning_everything(app):
    _fill(app, [{} for _ in range(12)])
    with app.app_context():
        assert history.count_matching(history.Filters(), None, limit=10) == (10, True)
        assert history.count_matching(history.Filters(), None, limit=12) == (12, False)
        assert history.count_matching(history.Filters(state="approved"), None, limit=10) == (0, False)


def test_bad_filters_get_clear_messages(app, client):
    response = client.get("/requests?date_from=2024-06-02&date_to=2024-06-01&state=nonsense")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "There is a problem" in html
    assert "The end date must be on or after the start date." in html
    assert "Not a valid choice" in html
    bad_date = client.get("/requests?date_from=yesterday")
    assert bad_date.status_code == 422 and "Enter a date like 2024-05-31." in bad_date.get_data(as_text=True)
    damaged = client.get("/requests?after=%%%garbage").get_data(as_text=True)
    assert "That page link was damaged" in damaged


def test_csv_export_streams_the_filtered_list_without_secrets(app, client, sandbox, valid_form):
    submit(client, valid_form, key="a" * 32)
    submit(client, {**valid_form, "reason": "=HYPERLINK(\"http://evil\")", "label": "Active"}, key="b" * 32)
    _fill(app, [{"state": "approved", "reason": "old one"}])
    response = client.get("/requests/export.csv?state=AdminTask")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="requests-')
    assert response.is_streamed
    body = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["state"] for r in rows] == ["AdminTask", "AdminTask"]
    assert rows[0]["reason"].startswith("'=HYPERLINK")  # neutralised for spreadsheets
    assert rows[1]["identifier_value"] == "919780375690" and rows[1]["capillary_request_id"]
    assert rows[1]["state_words"] == "Waiting for approval" and rows[1]["made_in"] == "app"
    for secret in (app.config["CAP_UI_AUTH_TOKEN"], app.config["CAP_CHECKER_UI_AUTH_TOKEN"],
                   app.config["CAP_INTOUCH_PASSWORD"], "Basic ", "Authorization"):
        assert secret not in body
    page = client.get("/requests?state=AdminTask").get_data(as_text=True)
    assert 'href="/requests/export.csv?state=AdminTask"' in page


def test_export_walks_every_match_in_chunks(app):
    _fill(app, [{"store_id": "S9" if n % 3 else "S1"} for n in range(30)])
    with app.app_context():
        ids = [r.id for r in history.iter_matching(history.Filters(store="S9", sort="oldest"), None, chunk=4)]
    assert ids == [n + 1 for n in range(30) if n % 3]


@pytest.mark.parametrize("filters", [
    history.Filters(),
    history.Filters(state="approved"),
    history.Filters(store="S1", state="AdminTask"),
    history.Filters(label="Suspended"),
    history.Filters(identifier_values=("919780375690",)),
    history.Filters(identifier_parts=("97803",)),  # walks the creation index; see the next test
    history.Filters(submitted_by="asha"),
    history.Filters(sort="updated"),
    history.Filters(date_from=BASE.date(), date_to=BASE.date()),
])
def test_every_page_query_is_an_index_range_not_a_table_scan(tmp_path, filters):
    """The query plan reads an index for every filter: no full scan, no sort of all matches.

    The statement checked is the one history.page() really runs for a second page (caught as it
    goes to the database), explained with SQLite's EXPLAIN QUERY PLAN (deterministic, whatever
    the table's size); bench/history.py measures the same queries at 100,000 rows.
    """
    app = make_app(tmp_path, {"DATABASE_URL": f"sqlite:///{tmp_path / 'plan.sqlite3'}"})
    cursor = history.Cursor(BASE, 10).encode()
    with app.app_context():
        _, ran = _statements_of(lambda: history.page(filters, viewer=None, after=cursor))
        (statement, parameters), = [(sql, params) for sql, params in ran if "ORDER BY" in sql]
        raw = db.session.connection().connection.driver_connection
        plan = " | ".join(row[-1] for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters))
    assert "INDEX" in plan, plan
    assert not re.search(r"SCAN tracked_requests(?! USING)", plan), plan
    if not filters.submitted_by:  # an OR over two indexes needs a (small) sort of its matches
        assert "TEMP B-TREE" not in plan, plan


def test_the_was_it_resent_lookup_uses_its_index_with_statistics(app):
    # services/lifecycle/submission.resent_as loads the whole row. Nearly every row has no resend: after ANALYZE a plain
    # index of NULLs looks useless to SQLite, which then scans (checked: it does).
    _fill(app, [{} for _ in range(2000)])
    with app.app_context():
        db.session.execute(text("ANALYZE"))
        explain = {"sqlite": "EXPLAIN QUERY PLAN", "postgresql": "EXPLAIN"}[db.engine.dialect.name]
        plan = " ".join(str(row[-1]) for row in db.session.execute(
            text(f"{explain} SELECT * FROM tracked_requests WHERE resent_from_id = 7")))  # noqa: S608 - fixed text
    assert "ix_tracked_requests_resent_from" in plan, plan


def test_control_characters_in_filters_are_refused_not_sent_to_the_database(app, client):
    response = client.get("/requests?q=9197%00&store=S%01")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Remove the control characters" in html


@pytest.fixture
def customers(app):
    _fill(app, [
        {"identifier_value": "919780375690"},
        {"identifier_value": "8613800138000"},
        {"identifier_value": "447911123456"},
        {"identifier_name": "email", "identifier_value": "Rohan.Das@example.com"},
        {"identifier_name": "email", "identifier_value": "rohan_das@example.com"},
        {"identifier_name": "email", "identifier_value": "rohanxdas@example.com"},
        {"identifier_name": "externalId", "identifier_value": "EXT-100%"},
    ])


@pytest.mark.parametrize(("term", "found"), [
    ("97803", [1]),  # a part of the number
    ("+91 97803", [1]),  # typed with + and a space: its digits
    ("97803 75690", [1]),
    ("0013 8000", [2]),
    ("8613800138000", [2]),
    ("ROHAN.DAS@EXAMPLE.COM", [4]),  # another case
    ("rohan", [4, 5, 6]),
    ("rohan_das", [5]),  # "_" is a character, not LIKE's wildcard
    ("ext-100%", [7]),  # nor is "%"
    ("97", []),  # under 3 characters: whole values only
    ("55555", []),
])
def test_identifier_search_matches_a_part_in_any_case(app, client, customers, term, found):
    html = client.get("/requests", query_string={"q": term}).get_data(as_text=True)
    assert sorted(_ids(html)) == found


def test_search_parts_are_lower_case_digits_and_at_least_three_characters(app):
    from forms.history_form import search_parts

    assert search_parts(" +91 97803-75 ") == ("+91 97803-75", "919780375")
    assert search_parts("Rohan.Das@Example.COM") == ("rohan.das@example.com",)
    assert search_parts(" 97 ") == ()


def test_the_label_filter_is_a_select_of_the_configured_labels(app, client, mixed):
    html = client.get("/requests").get_data(as_text=True)
    options = re.search(r'<select[^>]*name="label"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert re.findall(r'<option[^>]*value="([^"]*)"', options) == ["", *app.config["CAP_STATUS_LABELS"]]
    assert client.get("/requests?label=suspended").status_code == 422  # not a configured label


def test_submitted_by_is_a_select_of_people_and_names_seen(app, client):
    from models import User

    _fill(app, [{"submitted_by": "asha"}, {"submitted_by": None, "maker_user_name": "sandbox.user.303473"},
                {"submitted_by": "ravi", "maker_user_name": "sandbox.user.303473"}])
    with app.app_context():
        people = [user.name for user in db.session.scalars(select(User))]
    html = client.get("/requests").get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="submitted_by"[^>]*>(.*?)</select>', html, re.S).group(1)
    groups = dict(re.findall(r'<optgroup label="([^"]*)">(.*?)</optgroup>', select_html, re.S))
    seen = re.findall(r'value="([^"]*)"', groups["Capillary&#39;s makers and earlier names"])
    assert seen == ["asha", "ravi", "sandbox.user.303473"]
    assert people and sorted(re.findall(r'value="([^"]*)"', groups["People of this app"])) == sorted(people)
    maker = client.get("/requests", query_string={"submitted_by": "sandbox.user.303473"}).get_data(as_text=True)
    assert sorted(_ids(maker)) == [2, 3]


def test_the_names_seen_are_read_one_index_seek_each(app):
    _fill(app, [{"submitted_by": f"person{n % 7}", "maker_user_name": f"maker{n % 3}"} for n in range(200)])
    with app.app_context():
        _people, others = history.submitters()
        assert others == [*(f"maker{n}" for n in range(3)), *(f"person{n}" for n in range(7))]
        assert history.submitters(limit=2)[1] == ["maker0", "maker1"]


def test_the_filters_fold_behind_a_count_of_those_in_use(app, client, mixed):
    html = client.get("/requests?state=approved&store=S2&sort=oldest").get_data(as_text=True)
    assert '<details class="filters-panel" open data-fold-narrow>' in html
    assert "<summary>Filters (2)</summary>" in html  # sorting is not a filter


def test_a_part_search_reads_the_trigram_index_on_postgresql(tmp_path):
    """The page query's expression is the one migration 0013 indexes (lower(identifier_value)),
    so PostgreSQL can answer "contains 97803" from the index (bench/search_postgres.py: 1M rows)."""
    from tests.databases import postgres_schema_url

    app = make_app(tmp_path, {"DATABASE_URL": postgres_schema_url()})
    _fill(app, [{"identifier_value": f"9197803{n:05d}"} for n in range(50)])
    with app.app_context():
        part = history.Filters(identifier_parts=("97803",))
        page, ran = _statements_of(lambda: history.page(part, viewer=None))
        assert len(page.records) == 25
        (statement, parameters), = [(sql, params) for sql, params in ran if "ORDER BY" in sql]
        db.session.execute(text("SET LOCAL enable_seqscan = off"))  # 50 rows: a scan is cheaper
        raw = db.session.connection().connection.driver_connection
        plan = " ".join(str(row[0]) for row in raw.execute(f"EXPLAIN {statement}", parameters))
    assert "ix_tracked_requests_identifier_trgm" in plan, plan


def test_on_sqlite_a_part_search_scans_the_identifier_without_lower(tmp_path):
    """SQLite has no trigram index: the count scans the narrow covering identifier index, and
    without lower() (its LIKE ignores ASCII case already), which halves that scan at 1M rows
    (docs/BENCHMARKS.md)."""
    app = make_app(tmp_path, {"DATABASE_URL": f"sqlite:///{tmp_path / 'plan.sqlite3'}"})
    _fill(app, [{"identifier_value": "919780375690"}, {"identifier_name": "email",
                                                       "identifier_value": "Rohan.Das@example.com"}])
    with app.app_context():
        part = history.Filters(identifier_parts=("rohan.das@",))
        found, ran = _statements_of(lambda: history.page(part, viewer=None))
        assert [r.identifier_value for r in found.records] == ["Rohan.Das@example.com"]
        searches = [(sql, params) for sql, params in ran if "LIKE" in sql]
        assert searches and not any("lower(" in sql for sql, _ in searches)
        (count_sql, params), = [(sql, p) for sql, p in searches if "count(" in sql]
        raw = db.session.connection().connection.driver_connection
        plan = " | ".join(row[-1] for row in raw.execute(f"EXPLAIN QUERY PLAN {count_sql}", params))
    assert "COVERING INDEX ix_tracked_requests_identifier" in plan, plan
