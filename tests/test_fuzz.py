"""Property tests (Hypothesis) over the request form: hostile input never breaks the app.

Every field gets unicode, control characters, NUL, very long strings and HTML/JS/SQL/template
injection strings. Properties: never a 5xx; an accepted form sends a payload valid against the
JSON Schema of the documented request (tests/data/create_request.schema.json, from
docs/CAPILLARY_API.md §1.3); the review page shows exactly what is then sent; and every string a
person typed is escaped on every page that shows it (review, status page, history).
"""

from __future__ import annotations

import json
import re
import uuid
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from markupsafe import escape

from extensions import db
from gateway.payload import mask_secrets
from tests.helpers import VALID_FORM, make_app, sign_in

SCHEMA = json.loads((Path(__file__).parent / "data" / "create_request.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA)
# Modest example counts keep the suite fast; the request form gets the most.
FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_FORMS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

INJECTIONS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "javascript:alert(document.cookie)",
    "'; DROP TABLE tracked_requests; --",
    "' OR '1'='1",
    "1; SELECT pg_sleep(10)",
    "{{ config }}",
    "{{7*7}}",
    "{% for x in range(9) %}x{% endfor %}",
    "${7*7}",
    "</textarea><script>alert(1)</script>",
    "<!-- -->",
    "]]>",
    "&lt;b&gt;",
    "&amp;&#39;&quot;",
    "\u202egnp.exe",
    "a\u0000b",
    "line1\r\nSet-Cookie: x=y",
    "%00%0d%0a",
    "../../../../etc/passwd",
    "\\u003cscript\\u003e",
]
FREE_TEXT_IDENTIFIERS = ["externalId", "cardnumber", "cardExternalId", "wechat", "fbid", "martjackId"]

control = st.text(alphabet=st.characters(codec="utf-8", categories=["Cc"]), min_size=1, max_size=8)
unicode_text = st.text(max_size=60)
long_text = st.builds(lambda piece, times: piece * times, st.text(min_size=1, max_size=4), st.integers(50, 5000))
hostile = st.one_of(
    st.sampled_from(INJECTIONS),
    unicode_text,
    control,
    long_text,
    st.builds(lambda a, b: a + b, st.sampled_from(INJECTIONS), unicode_text),
    st.builds(lambda a, c: a + c + a, st.sampled_from(["x", "ab", "12"]), control),
)


def maybe_valid(valid: str, strategy=hostile):
    """Half the time a valid value (so the rest of the form can pass), else hostile."""
    return st.one_of(st.just(valid), strategy)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One app for the whole module (Hypothesis runs many examples per test)."""
    # Sign-in limits high: the sign-in form is fuzzed from one address, and people sign in here often.
    # A SQLite file of its own even in the PostgreSQL run: conftest drops per-test schemas after
    # each test, and this database must outlive one.
    folder = tmp_path_factory.mktemp("fuzz")
    app = make_app(folder, {"DATABASE_URL": f"sqlite:///{folder / 'fuzz.sqlite3'}",
                            "CAP_LOGIN_RATE_LIMIT": "100000 per minute",
                            "CAP_LOGIN_ACCOUNT_RATE_LIMIT": "100000 per minute",
                            # Hostile identifiers match no customer: let the ticks send them anyway.
                            "CAP_ALLOW_UNKNOWN_CUSTOMER": "true"})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def client(app):
    client = app.test_client()
    sign_in(client, "agent")
    return client


@pytest.fixture(scope="module")
def sandbox(app):
    return app.extensions["sandbox_app"].extensions["sandbox"]


class _Inputs(HTMLParser):
    """Collect the hidden inputs of the review page's submit form (values unescaped)."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "input" and found.get("type") == "hidden" and found.get("name"):
            self.values[found["name"]] = found.get("value") or ""


def _hidden_values(html: str) -> dict[str, str]:
    parser = _Inputs()
    parser.feed(html)
    return parser.values


def _shown_json(html: str) -> dict:
    match = re.search(r'aria-label="Request body \(JSON\)">(.*?)</pre>', html, re.S)
    assert match, "the review page shows the request body"
    return json.loads(unescape(match.group(1)))


# Every tag the templates use (read from them, so new templates are covered as they land),
# and those WTForms renders for fields.
TEMPLATE_TAGS = frozenset(
    tag for path in (Path(__file__).parent.parent / "templates").rglob("*.html")
    for tag in re.findall(r"<([a-z][a-z0-9]*)", path.read_text())
) | {"label", "input", "select", "optgroup", "option", "textarea"}


class _Structure(HTMLParser):
    """Fail on markup no template makes: a foreign tag, an event handler, inline or javascript: code."""

    def __init__(self):
        super().__init__()
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        assert tag in TEMPLATE_TAGS, f"<{tag}> is not made by any template: injected markup"
        for name, value in attrs:
            assert not name.startswith("on"), f"event handler attribute {name} on <{tag}>"
            if name in ("href", "src", "action", "formaction"):
                assert not (value or "").strip().lower().startswith(("javascript:", "data:")), value
        if tag == "script":
            assert dict(attrs).get("src"), "an inline <script>"
            self.in_script = True

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script = False

    def handle_data(self, data):
        assert not (self.in_script and data.strip()), "script content inside the page"


def _assert_inert(html: str) -> None:
    """Nothing in the page is markup or code that the templates did not write."""
    parser = _Structure()
    parser.feed(html)
    parser.close()


def _assert_escaped(html: str, value: str) -> None:
    """``value`` is shown as text: its escaped form is in the page, and the page holds no injected markup."""
    assert str(escape(value)) in html
    _assert_inert(html)


def _check_accepted(client, sandbox, review_html: str) -> tuple[str, str]:
    """Send what the review page holds; check the payload, and every page showing the values.

    Returns the HTML of the new record's status page and of the history.
    """
    hidden = _hidden_values(review_html)
    shown = _shown_json(review_html)
    before = sandbox.created_count
    # The review page's ticks (no such customer, no-op, another open request), all given.
    ticks = {"confirm_unknown": "y", "confirm_noop": "y", "confirm_duplicate": "y"}
    response = client.post("/requests", data={**hidden, **ticks})
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    assert sandbox.created_count == before + 1
    sent = sandbox.calls[-1]["body"]
    VALIDATOR.validate(sent)
    assert mask_secrets(sent) == shown  # what the review page showed is exactly what was sent

    task = sent["payload"]["IntouchAPITask-Payload"]
    typed = {
        "identifierValue": task["queryParams"]["identifierValue"],
        "reason": task["body"]["reason"],
        "accountId": task["queryParams"]["accountId"],
        **sent["entityInfo"],
    }
    status_page = client.get(response.headers["Location"])
    assert status_page.status_code == 200
    status_html = status_page.get_data(as_text=True)
    history_html = client.get("/requests").get_data(as_text=True)
    for name, value in typed.items():
        if not value:
            continue
        if name != "accountId":  # the account ID is shown only inside the submitted JSON
            _assert_escaped(review_html, value)
            _assert_escaped(status_html, value)
        if name == "identifierValue":
            _assert_escaped(history_html, value)
    return status_html, history_html


@FUZZ
@given(
    tillId=maybe_valid("50682289"),
    storeId=maybe_valid("50682288"),
    zoneId=maybe_valid("50682286"),
    conceptId=maybe_valid("50678331"),
    identifierName=maybe_valid("externalId", st.one_of(st.sampled_from(["mobile", "email"]), hostile)),
    identifierValue=maybe_valid("EXT-1001"),
    label=maybe_valid("Suspended"),
    reason=maybe_valid("Suspected fraud at till 3"),
    source=maybe_valid("INSTORE"),
    accountId=maybe_valid(""),
    use_async=maybe_valid("y"),
    submission_key=maybe_valid("k" * 32),
)
def test_any_form_input_is_answered_without_a_server_error(app, client, sandbox, **form):
    if form["submission_key"] == "k" * 32:
        form["submission_key"] = uuid.uuid4().hex  # one key per example, or the second is a duplicate
    review = client.post("/requests/new", data=form)
    assert review.status_code in (200, 422), review.status_code
    html = review.get_data(as_text=True)
    assert "Customer status requests" in html  # rendered in the app's layout
    _assert_inert(html)  # typed values are echoed back as text, if at all
    if review.status_code == 422:
        assert "There is a problem" in html
        # Posting the same form straight to /requests is refused the same way, and sends nothing.
        before = sandbox.created_count
        direct = client.post("/requests", data=form)
        assert direct.status_code == 422
        assert sandbox.created_count == before
    else:
        _check_accepted(client, sandbox, html)


printable_hostile = st.one_of(
    st.sampled_from([s for s in INJECTIONS if s.isprintable()]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Zl", "Zp", "Co", "Cn"]),
            min_size=3, max_size=120),
).map(str.strip).filter(lambda s: len(s) >= 3)


@FUZZ
@given(
    identifierName=st.sampled_from(FREE_TEXT_IDENTIFIERS),
    identifierValue=printable_hostile,
    reason=st.one_of(printable_hostile, st.builds(lambda a, b: f"{a}\n{b}", printable_hostile, printable_hostile)),
    accountId=st.one_of(st.just(""), printable_hostile.map(lambda s: s[:64].strip()).filter(bool)),
)
def test_hostile_free_text_is_sent_as_typed_and_shown_escaped(app, client, sandbox, **fields):
    form = {**VALID_FORM, **fields, "submission_key": uuid.uuid4().hex}
    review = client.post("/requests/new", data=form)
    html = review.get_data(as_text=True)
    if review.status_code == 422:
        # Only characters that cannot be sent are refused (e.g. U+2028 or a private-use char).
        assert "cannot be sent" in html or "at most" in html
        return
    assert review.status_code == 200
    _check_accepted(client, sandbox, html)


@pytest.mark.parametrize("text", [s for s in INJECTIONS if s.isprintable()])
def test_every_injection_string_is_accepted_as_free_text_and_shown_inert(app, client, sandbox, text):
    form = {**VALID_FORM, "identifierName": "externalId", "identifierValue": text,
            "reason": f"reason: {text}", "submission_key": uuid.uuid4().hex}
    review = client.post("/requests/new", data=form)
    assert review.status_code == 200
    html = review.get_data(as_text=True)
    pages = (html, *_check_accepted(client, sandbox, html))
    for page in pages:
        if "<" in text or '"' in text:
            assert text not in page  # none of these payloads ever appears raw
        assert app.config["SECRET_KEY"] not in page  # "{{ config }}" is text, never evaluated
    assert "{{7*7}}" not in text or all("{{7*7}}" in page for page in pages)  # shown, not evaluated


@FUZZ
@given(raw=st.binary(max_size=300))
def test_undecodable_bytes_in_a_form_never_break_it(client, raw):
    """A client sending bytes that are not UTF-8 (or not form-encoded at all) gets a page, not a 500."""
    from urllib.parse import quote_from_bytes

    body = "&".join(f"{k}={quote_from_bytes(v.encode())}" for k, v in VALID_FORM.items())
    body += "&reason=" + quote_from_bytes(raw) + "&identifierValue=" + quote_from_bytes(raw)
    for path in ("/requests/new", "/requests"):
        response = client.post(path, data=body, content_type="application/x-www-form-urlencoded")
        assert response.status_code in (200, 303, 422), (path, response.status_code)
    garbage = client.post("/requests/new", data=raw, content_type="application/x-www-form-urlencoded")
    assert garbage.status_code in (200, 422)


@FUZZ
@given(page=st.one_of(st.text(max_size=30), st.integers(-10**12, 10**12).map(str)),
       pk=st.one_of(st.integers(0, 2**70), st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64])))
def test_any_record_id_or_page_number_is_answered_without_a_server_error(app, admin, page, pk):
    """Every route taking an ID, with any ID (even past the database's integer range), and any page."""
    assert admin.get("/requests", query_string={"page": page}).status_code == 200
    assert admin.get("/requests/new", query_string={"from": str(pk)}).status_code < 500
    for rule in app.url_map.iter_rules():
        if "<int:" not in rule.rule:
            continue
        url = re.sub(r"<int:[a-z_]+>", str(pk), rule.rule)
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = admin.open(url, method=method)
            assert response.status_code < 500, (method, url, response.status_code)


# -- the other forms -------------------------------------------------------------------------

FIELD_VALUE = st.one_of(hostile, st.just(""), st.sampled_from(["approved", "rejected", "review", "confirm",
                                                                "AdminTask", "newest", "app", "2026-01-31"]))


def _assert_answered(response, *allowed: int) -> str:
    """A page (or redirect) in the app's layout, never a 5xx, nothing injected."""
    assert response.status_code < 500, response.status_code
    if allowed:
        assert response.status_code in allowed, response.status_code
    html = response.get_data(as_text=True)
    if response.mimetype == "text/html":
        _assert_inert(html)
    return html


@pytest.fixture(scope="module")
def pending_id(app, client):
    """A request waiting for a checker, made by the agent through the form."""
    response = client.post("/requests", data={**VALID_FORM, "submission_key": uuid.uuid4().hex})
    assert response.status_code == 303
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


@pytest.fixture(scope="module")
def checker(app):
    from tests.helpers import signed_in_client

    return signed_in_client(app, "checker")


@pytest.fixture(scope="module")
def admin(app):
    from tests.helpers import signed_in_client

    return signed_in_client(app, "admin")


@FUZZ_FORMS
@given(params=st.fixed_dictionaries({}, optional={
    name: FIELD_VALUE for name in ("q", "state", "store", "label", "submitted_by", "origin", "sort", "after",
                                   "before", "date_from", "date_to", "page")}))
def test_history_filters_never_break(client, params):
    html = _assert_answered(client.get("/requests", query_string=params), 200, 422)
    for value in params.values():
        if value.strip():
            assert "Customer status requests" in html
    _assert_answered(client.get("/requests/export.csv", query_string=params), 200, 422)


@FUZZ_FORMS
@given(form=st.fixed_dictionaries({"decision": FIELD_VALUE, "message": FIELD_VALUE, "step": FIELD_VALUE}))
def test_decision_form_never_breaks(checker, sandbox, pending_id, form):
    _assert_answered(checker.post(f"/approvals/{pending_id}", data=form))
    _assert_answered(checker.get(f"/approvals/{pending_id}"))


@FUZZ_FORMS
@given(form=st.fixed_dictionaries({"username": FIELD_VALUE, "password": FIELD_VALUE}))
def test_sign_in_form_never_breaks(app, form):
    # A fresh client each time; the per-address limit may answer 429, in the layout.
    _assert_answered(app.test_client().post("/login", data=form), 200, 303, 400, 401, 422, 429)


@pytest.fixture(scope="module")
def maker(app):
    from tests.helpers import signed_in_client

    return signed_in_client(app, "maker")


@FUZZ_FORMS
@given(token=FIELD_VALUE, passwords=st.fixed_dictionaries({"current": FIELD_VALUE, "new": FIELD_VALUE,
                                                          "confirm": FIELD_VALUE}))
def test_profile_forms_never_break(maker, token, passwords):
    person = maker
    _assert_answered(person.post("/profile/token", data={"token": token}))
    _assert_answered(person.post("/profile/password", data=passwords))


@FUZZ_FORMS
@given(form=st.fixed_dictionaries({"username": FIELD_VALUE, "display_name": FIELD_VALUE, "stores": FIELD_VALUE,
                                   "password": FIELD_VALUE, "roles": FIELD_VALUE}),
       audit=st.fixed_dictionaries({}, optional={n: FIELD_VALUE for n in ("who", "action", "since", "until",
                                                                          "ip", "text")}))
def test_admin_forms_never_break(admin, form, audit):
    _assert_answered(admin.post("/admin/users/new", data=form))
    _assert_answered(admin.get("/admin/audit", query_string=audit))


@FUZZ_FORMS
@given(settings_form=st.fixed_dictionaries({"latency_ms": FIELD_VALUE, "auto_approve": FIELD_VALUE}),
       fault=st.fixed_dictionaries({"kind": FIELD_VALUE, "count": FIELD_VALUE, "endpoint": FIELD_VALUE}),
       seed_form=st.fixed_dictionaries({"customer": FIELD_VALUE, "label": FIELD_VALUE, "state": FIELD_VALUE,
                                        "reason": FIELD_VALUE}))
def test_trainer_forms_never_break(admin, sandbox, settings_form, fault, seed_form):
    _assert_answered(admin.post("/sandbox/settings", data=settings_form))
    _assert_answered(admin.post("/sandbox/faults", data=fault))
    _assert_answered(admin.post("/sandbox/seed", data=seed_form))
    sandbox.clear_faults()  # a valid fault must not leak into the other tests of this module
    sandbox.set_latency_ms(0)


# -- the bulk CSV importer -------------------------------------------------------------------

CSV_HEADER = ["tillId", "storeId", "zoneId", "conceptId", "identifierName", "identifierValue", "label", "reason",
              "source", "accountId"]
CSV_VALID = ["50682289", "50682288", "50682286", "50678331", "externalId", "EXT-1001", "Suspended",
             "Suspected fraud", "INSTORE", ""]


def _csv_bytes(rows: list[list[str]], delimiter: str = ",") -> bytes:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(CSV_HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


csv_cell = st.one_of(st.sampled_from(INJECTIONS), st.text(max_size=40), control, st.just(""))
csv_row = st.lists(st.one_of(csv_cell, st.none()), min_size=len(CSV_HEADER), max_size=len(CSV_HEADER)).map(
    lambda cells: [CSV_VALID[i] if cell is None else cell for i, cell in enumerate(cells)])


@FUZZ_FORMS
@given(rows=st.lists(csv_row, min_size=1, max_size=8), delimiter=st.sampled_from([",", ";", "\t"]))
def test_csv_importer_checks_every_row_and_accepts_only_sendable_ones(app, rows, delimiter):
    import io

    from gateway.payload import build_payload
    from services.bulk.csv_reader import BadFile, Rules, read_rows

    notices: list[str] = []
    with app.app_context():
        settings_ = Rules.from_config(app.config)
        try:
            checked = list(read_rows(io.BytesIO(_csv_bytes(rows, delimiter)), settings_, max_rows=100,
                                     notices=notices))
        except BadFile as exc:
            assert str(exc)  # a refused file says why
            return
    assert len(checked) <= len(rows)
    for row in checked:
        if row.change is None:
            assert row.errors and all(column and message for column, message in row.errors)
        else:
            assert not row.errors
            VALIDATOR.validate(build_payload(row.change, "https://eu.api.capillarytech.com", "Basic eA=="))


@FUZZ_FORMS
@given(raw=st.one_of(st.binary(max_size=2000), st.lists(csv_row, max_size=5).map(_csv_bytes)),
       name=st.one_of(st.just("upload.csv"), hostile.filter(lambda s: "\x00" not in s and "/" not in s)))
def test_csv_upload_page_never_breaks(client, raw, name):
    import io

    response = client.post("/bulk", data={"file": (io.BytesIO(raw), name or "x.csv")},
                           content_type="multipart/form-data")
    _assert_answered(response, 303, 422)
    if response.status_code == 303:
        _assert_answered(client.get(response.headers["Location"]), 200)


# -- every query parameter of every GET page and export (security finding 5) -----------------------


def _cursor(text: str) -> str:
    import base64

    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# Values at and past the edges: huge and negative numbers, the last and first dates Python
# knows, and history cursors that decode to such values.
EXTREME = st.sampled_from([
    "99999999999999999999", "9223372036854775808", "2147483648", "-1", "0", "1e30", "NaN", "Infinity",
    "9999-12-31", "0001-01-01", "9999-99-99", "2026-02-30",
    _cursor("9999-12-31T23:59:59|99999999999999999999"), _cursor("2026-01-01T00:00:00|-99999999999999999999"),
    _cursor("0001-01-01T00:00:00+14:00|1"), _cursor("9999-12-31T23:59:59-10:00|1"), _cursor("x|1"),
])
QUERY_VALUE = st.one_of(FIELD_VALUE, EXTREME)
HISTORY_PARAMS = ("q", "state", "store", "label", "submitted_by", "origin", "sort", "after", "before",
                  "date_from", "date_to")
AUDIT_PARAMS = ("who", "action", "since", "until", "ip", "text", "page")
# Every GET page and export with the query parameters it reads ("{pending}" and "{batch}" are a
# record and a bulk file that exist).
GET_PAGES = {
    "/requests": HISTORY_PARAMS,
    "/requests/export.csv": HISTORY_PARAMS,
    "/requests/new": ("from",),
    "/requests/mine": (),
    "/requests/{pending}": (),
    "/requests/{pending}/live": (),
    "/approvals": ("store", "label", "maker", "batch", "age", "sort", "size", "page"),
    "/approvals/runs/{pending}": (),  # no such run: a 404, never a 500
    "/approvals/{pending}": ("decision",),
    "/admin/audit": AUDIT_PARAMS,
    "/admin/audit.csv": AUDIT_PARAMS,
    "/admin/users": (),
    "/admin/settings": (),
    "/bulk": ("discarded",),
    "/bulk/{batch}": ("valid_page", "error_page", "duplicate_page"),
    "/bulk/{batch}/results.csv": (),
    "/login": ("next", "reason"),
    "/profile": (),
    "/sandbox/reset": (),
}


def test_the_fuzzed_pages_are_every_get_page():
    """A new GET page must be added to GET_PAGES (with the parameters it reads) to be fuzzed."""
    fuzz_app = make_app(Path(__import__("tempfile").mkdtemp()))
    open_or_static = {"static", "health.healthz", "health.readyz", "health.readyz_jobs", "metrics.metrics",
                      "requests.index", "admin.index", "admin.new_user", "admin.edit_user", "trainer.index",
                      "auth.session_status", "bulk.template", "bulk.progress_json"}
    pages = {re.sub(r"<int:\w+>", "{x}", rule.rule) for rule in fuzz_app.url_map.iter_rules()
             if "GET" in rule.methods and rule.endpoint not in open_or_static}
    fuzzed = {re.sub(r"\{\w+\}", "{x}", page) for page in GET_PAGES}
    assert pages <= fuzzed, pages - fuzzed


@pytest.fixture(scope="module")
def batch_id(app, client):
    import io

    rows = _csv_bytes([CSV_VALID])
    response = client.post("/bulk", data={"file": (io.BytesIO(rows), "one.csv")}, content_type="multipart/form-data")
    assert response.status_code == 303
    return int(re.search(r"/bulk/(\d+)", response.headers["Location"]).group(1))


# Each example asks every page once with its parameters together and once per parameter alone
# (about 80 requests): fewer examples than the other fuzz tests, and room on a busy machine.
@pytest.mark.timeout(600)
@FUZZ_FORMS
@given(data=st.data())
def test_every_query_parameter_of_every_get_page_is_answered_without_a_server_error(
        admin, checker, client, pending_id, batch_id, data):
    for path, names in GET_PAGES.items():
        person = checker if path.startswith("/approvals") else client if path.startswith(("/bulk", "/requests/")) \
            else admin
        url = path.format(pending=pending_id, batch=batch_id)
        together = data.draw(st.fixed_dictionaries({}, optional={name: QUERY_VALUE for name in names}), label=path)
        # One parameter alone too, mostly at the edges: with others it may never get past a 422.
        alone = [{name: data.draw(st.one_of(EXTREME, QUERY_VALUE), label=f"{path}?{name}")}
                 for name in ([data.draw(st.sampled_from(names), label=f"{path} alone")] if names else [])]
        for params in (together, *alone):
            response = person.get(url, query_string=params)
            response.get_data()  # a CSV export is read to its end: no break mid-download
            assert response.status_code < 500, (url, params, response.status_code)


@pytest.mark.parametrize(("path", "params"), [
    ("/requests", {"date_to": "9999-12-31"}),
    ("/requests/export.csv", {"date_to": "9999-12-31"}),
    ("/requests", {"date_from": "0001-01-01", "date_to": "0001-01-01"}),
    ("/requests", {"after": _cursor("2026-01-01T00:00:00|99999999999999999999")}),
    ("/requests", {"before": _cursor("2026-01-01T00:00:00|99999999999999999999")}),
    ("/admin/audit", {"page": "99999999999999999999"}),
    ("/admin/audit", {"until": "9999-12-31"}),
    ("/admin/audit.csv", {"until": "9999-12-31"}),
    ("/approvals", {"page": "99999999999999999999"}),
])
def test_the_crafted_query_parameters_of_the_security_test_are_answered(admin, checker, pending_id, path, params):
    """Security finding 5: each of these was a 500 (or a CSV download broken off)."""
    person = checker if path.startswith("/approvals") else admin
    response = person.get(path, query_string=params)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    if path.endswith(".csv"):
        assert body.count("\n") >= 2  # the header and the matching rows, to the end
    elif "after" in params or "before" in params:
        assert "That page link was damaged" in body  # said, and the first page shown
