"""Languages and time zones: choosing a language, remembering it, times in the person's zone,
and Spanish catalogs that are complete and in step with the code."""

from __future__ import annotations

import io
import re
from datetime import datetime
from html import unescape
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.support import Translations
from markupsafe import escape

from app import ROOT, create_app
from extensions import db
from i18n import format_datetime
from models import TrackedRequest
from services.bulk.csv_reader import COLUMNS
from tests.helpers import VALID_FORM, make_app, sign_in

CATALOG = ROOT / "translations" / "es" / "LC_MESSAGES" / "messages.po"
COMPILED = CATALOG.with_suffix(".mo")
# The same keywords and folders as scripts/translations.
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None,
            "lazy_ngettext": (1, 2), "N_": None}
NOT_SCANNED = {"tests", "bench", "sandbox", "migrations", "instance", "scripts", "translations", "docs"}


@pytest.fixture(scope="module")
def spanish() -> Translations:
    assert COMPILED.is_file(), "the Spanish catalog is not compiled: run scripts/translations compile"
    return Translations.load(str(ROOT / "translations"), ["es"])


def _html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True)).group(1)


# -- which language a page is in ------------------------------------------------------------------


def test_the_browsers_language_is_used(app, spanish):
    client = app.test_client()
    spanish_page = client.get("/login", headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"})
    english_page = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert _html_lang(spanish_page) == "es"
    assert spanish.gettext("Language:") in spanish_page.get_data(as_text=True)
    assert spanish.gettext("Language:") != "Language:"
    assert _html_lang(english_page) == "en"
    assert "Language:" in english_page.get_data(as_text=True)


def test_a_language_the_app_lacks_falls_back_to_the_configured_default(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "es").mkdir()
    english_default = make_app(tmp_path / "en").test_client()
    spanish_default = make_app(tmp_path / "es", {"CAP_DEFAULT_LANGUAGE": "es"}).test_client()
    assert _html_lang(english_default.get("/login", headers={"Accept-Language": "fr-FR,fr"})) == "en"
    assert _html_lang(spanish_default.get("/login", headers={"Accept-Language": "fr-FR,fr"})) == "es"
    assert _html_lang(spanish_default.get("/login")) == "es"


def test_the_switcher_remembers_the_choice_over_the_browsers_language(app):
    client = app.test_client()
    answer = client.post("/language", data={"language": "es", "next": "/login?reason=expired"})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/login?reason=expired"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("lang=es;")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert re.search(r"Max-Age=31536000", cookie)
    assert _html_lang(client.get("/login", headers={"Accept-Language": "en-US,en"})) == "es"

    client.post("/language", data={"language": "en", "next": "/login"})
    assert _html_lang(client.get("/login", headers={"Accept-Language": "es-ES,es"})) == "en"


def test_the_switcher_works_for_signed_in_people_and_keeps_them_signed_in(client):
    answer = client.post("/language", data={"language": "es", "next": "/requests"})
    assert answer.headers["Location"] == "/requests"
    page = client.get("/requests")
    assert page.status_code == 200
    assert _html_lang(page) == "es"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", ""])
def test_the_switcher_never_sends_anyone_off_site(app, target):
    answer = app.test_client().post("/language", data={"language": "es", "next": target})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/login"


def test_the_switcher_ignores_a_language_it_does_not_offer(app):
    client = app.test_client()
    answer = client.post("/language", data={"language": "fr", "next": "/login"})
    assert answer.status_code == 303
    assert "Set-Cookie" not in answer.headers or "lang=" not in answer.headers["Set-Cookie"]
    client.set_cookie("lang", "xx-unknown")  # a forged cookie is ignored too
    assert _html_lang(client.get("/login", headers={"Accept-Language": "es"})) == "es"


def test_the_switcher_needs_the_pages_csrf_token(tmp_path):
    client = make_app(tmp_path, WTF_CSRF_ENABLED=True).test_client()
    refused = client.post("/language", data={"language": "es", "next": "/login"})
    assert refused.status_code == 400
    assert "lang=" not in refused.headers.get("Set-Cookie", "")

    page = client.get("/login").get_data(as_text=True)
    footer = page[page.index('<footer'):]
    token = re.search(r'name="csrf_token" value="([^"]+)"', footer).group(1)
    accepted = client.post("/language", data={"language": "es", "next": "/login", "csrf_token": token})
    assert accepted.status_code == 303
    assert accepted.headers["Set-Cookie"].startswith("lang=es;")


def test_every_page_offers_the_other_language_in_its_own_words(client):
    english = client.get("/requests/new").get_data(as_text=True)
    assert re.search(r'<button[^>]*name="language" value="es" lang="es"[^>]*>Español</button>', english)
    client.set_cookie("lang", "es")
    spanish = client.get("/requests/new").get_data(as_text=True)
    assert re.search(r'<button[^>]*name="language" value="en" lang="en"[^>]*>English</button>', spanish)


# -- times in the person's time zone ---------------------------------------------------------------


def test_times_are_shown_in_the_browsers_time_zone_and_language(app):
    stored = datetime(2031, 5, 17, 8, 30)  # naive UTC, as every stored time is
    with app.test_request_context(headers={"Cookie": "tz=Asia/Kolkata", "Accept-Language": "en"}):
        kolkata = format_datetime(stored)
    with app.test_request_context(headers={"Cookie": "tz=Europe/Madrid", "Accept-Language": "es"}):
        madrid = format_datetime(stored)
    with app.test_request_context():
        default = format_datetime(stored)
    assert "May 17, 2031" in kolkata and "2:00:00" in kolkata and "PM" in kolkata and "+0530" in kolkata
    assert madrid.startswith("17 may 2031, 10:30:00") and "CEST" in madrid
    assert "8:30:00" in default and default.endswith("UTC")


def test_a_time_zone_that_does_not_exist_is_ignored(app):
    with app.test_request_context(headers={"Cookie": "tz=Mars/Olympus_Mons"}):
        assert format_datetime(datetime(2031, 5, 17, 8, 30)).endswith("UTC")


def test_the_default_time_zone_is_configurable(tmp_path):
    app = make_app(tmp_path, {"CAP_DEFAULT_TIMEZONE": "America/Mexico_City"})
    with app.test_request_context():
        assert "2:30:00" in format_datetime(datetime(2031, 5, 17, 8, 30))


def test_pages_name_the_time_zone_they_use(client):
    client.set_cookie("tz", "Asia/Kolkata")
    page = client.get("/requests").get_data(as_text=True)
    assert "Times are shown in the Asia/Kolkata time zone." in page


@pytest.mark.parametrize(("name", "value"), [("CAP_GATEWAY_TIMEZONE", "Nowhere/Land"),
                                             ("CAP_DEFAULT_TIMEZONE", "GMT+99"),
                                             ("CAP_DEFAULT_LANGUAGE", "fr")])
def test_bad_language_and_time_zone_settings_stop_start_up_with_their_name(tmp_path, name, value):
    with pytest.raises(SystemExit) as stopped:
        create_app({"ENVIRON": {name: value, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}})
    assert name in str(stopped.value)


def test_the_gateway_time_zone_is_a_real_setting(tmp_path):
    app = make_app(tmp_path, {"CAP_GATEWAY_TIMEZONE": "Asia/Kolkata"})
    assert app.config["CAP_GATEWAY_TIMEZONE"] == "Asia/Kolkata"
    (tmp_path / "default").mkdir()
    assert make_app(tmp_path / "default").config["CAP_GATEWAY_TIMEZONE"] == "UTC"


# -- the Spanish catalog ---------------------------------------------------------------------------


def _messages_in_the_code() -> set:
    with open(ROOT / "babel.cfg") as config:
        method_map, options_map = parse_mapping_cfg(config)

    def scanned(path: str) -> bool:
        name = Path(path).name
        top = Path(path).parts[0] if Path(path).parts else name
        return not name.startswith((".", "_")) and top not in NOT_SCANNED

    found = {message for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, directory_filter=scanned)}
    # Of the sandbox, only the fault descriptions the trainer page shows.
    found.update(message for _line, message, _comments, _context in extract_from_file(
        "python", str(ROOT / "sandbox" / "faults.py"), keywords=KEYWORDS))
    return found


def test_the_spanish_catalog_is_in_step_with_the_code():
    with open(CATALOG, "rb") as source:
        catalog = read_po(source)
    in_catalog = {message.id for message in catalog if message.id}
    in_code = _messages_in_the_code()
    assert in_code, "nothing extracted: babel.cfg or the keywords are wrong"
    missing = sorted(map(str, in_code - in_catalog))
    assert missing == [], f"run scripts/translations update, then translate: {missing[:10]}"


def test_every_spanish_message_is_translated_with_the_same_placeholders():
    with open(CATALOG, "rb") as source:
        catalog = read_po(source)
    untranslated = [message.id for message in catalog if message.id and (
        message.fuzzy or not all(message.string if isinstance(message.string, tuple) else [message.string]))]
    assert untranslated == []
    problems = [(message.id, [str(error) for error in errors]) for message, errors in catalog.check()]
    assert problems == []
    assert len(catalog) > 300  # the whole interface, not a sample


def test_the_compiled_catalog_is_not_older_than_its_source():
    assert COMPILED.is_file() and COMPILED.stat().st_mtime >= CATALOG.stat().st_mtime, (
        "run scripts/translations compile")


# -- no English left on Spanish pages --------------------------------------------------------------

# Words that are English and never Spanish: one of them on a Spanish page means text that was
# not marked for translation (or not translated).
ENGLISH_ONLY = {"the", "and", "your", "you", "this", "is", "was", "with", "will", "been", "has", "have",
                "request", "requests", "of", "to", "for", "from", "or", "it", "not", "be", "are", "can"}
SPANISH_FORM = {**VALID_FORM, "reason": "Fraude sospechado en la caja 3"}
DECISION = {"decision": "approved", "message": "Revisado con el recibo de la caja"}


def _visible_words(html: str) -> list[str]:
    # Code, and values shown as data (class "break": IDs, file names, settings), are not words.
    html = re.sub(r"(?s)<(script|style|pre|code)\b.*?</\1>", " ", html)
    html = re.sub(r'(?s)<span class="break">.*?</span>', " ", html)
    text = re.sub(r"(?s)<[^>]+>", " ", html)
    text = re.sub(r"&[a-z]+;|&#\d+;", " ", text)
    return re.findall(r"[^\W\d_]+", text)


def _english_left(html: str) -> list[str]:
    words = _visible_words(html)
    return sorted({w for w in words if w.lower() in ENGLISH_ONLY})


def _heading(html: str) -> str:
    found = re.search(r"(?s)<h1[^>]*>(.*?)</h1>", html)
    return unescape(re.sub(r"(?s)<[^>]+>", "", found.group(1))).strip() if found else ""


class SpanishPages(dict):
    """The Spanish pages of the sweep by name; each is checked to be the page it claims to be."""

    def __init__(self, spanish: Translations):
        super().__init__()
        self.spanish = spanish

    def take(self, name: str, response, status: int, heading: str, **params) -> str:
        """Keep ``response`` as page ``name`` once its status and its heading (translated) are right."""
        html = response.get_data(as_text=True)
        expected = self.spanish.gettext(heading) % params
        assert expected != heading % params, f"{name}: the heading {heading!r} has no Spanish"
        assert (response.status_code, _heading(html)) == (status, expected), name
        self[name] = html
        return html


def _spanish_client(app, username: str | None = None):
    client = app.test_client()
    if username:
        sign_in(client, username)
    client.set_cookie("lang", "es")
    return client


def _spanish_pages(app, spanish: Translations) -> SpanishPages:
    """Render the main pages of every role in Spanish; return their HTML by name."""
    pages = SpanishPages(spanish)
    anonymous = _spanish_client(app)
    pages.take("login", anonymous.get("/login"), 200, "Sign in")
    pages.take("login failed", anonymous.post("/login", data={"username": "agent", "password": "wrong"}), 401,
               "Sign in")

    agent = _spanish_client(app, "agent")
    pages.take("form", agent.get("/requests/new"), 200, "Request a customer status change")
    # The form posts to /requests/new: the review when it is valid, the form and its errors when not.
    pages.take("form with errors", agent.post("/requests/new", data={"action": "review"}), 422,
               "Request a customer status change")
    pages.take("review", agent.post("/requests/new", data={**SPANISH_FORM, "action": "review"}), 200,
               "Check before sending")
    created = agent.post("/requests", data={**SPANISH_FORM, "submission_key": "e" * 32})
    assert created.status_code == 303
    status_url = created.headers["Location"]
    record_id = int(status_url.rsplit("/", 1)[1])
    pages.take("status", agent.get(status_url), 200, "Status change request %(id)s", id=record_id)
    pages.take("history", agent.get("/requests"), 200, "Request history")
    pages.take("history with errors", agent.get("/requests?date_from=2024-06-02&date_to=2024-06-01"), 422,
               "Request history")
    pages.take("profile", agent.get("/profile"), 200, "Your profile")
    pages.take("profile with errors", agent.post("/profile/token", data={"token": "not-a-token"}), 422,
               "Your profile")
    pages.take("bulk", agent.get("/bulk"), 200, "Change many customers' status from a CSV file")
    rows = b"\r\n".join([b",".join(c.encode() for c in COLUMNS),
                          b"50682289,50682288,50682286,50678331,mobile,9780375690,Suspended,Fraude,,",
                          b"50682289,50682288,50682286,50678331,mobile,12,Suspended,x,,",
                          b"50682289,50682288,50682286,50678331,mobile,9780375690,Suspended,Fraude,,"]) + b"\r\n"
    uploaded = agent.post("/bulk", data={"file": (io.BytesIO(rows), "clientes.csv")},
                          content_type="multipart/form-data")
    assert uploaded.status_code == 303
    bulk_url = uploaded.headers["Location"]
    batch_id = int(bulk_url.rsplit("/", 1)[1])
    pages.take("bulk review", agent.get(bulk_url), 200, "Check the file before sending")
    pages.take("bulk bad file", agent.post("/bulk", data={"file": (io.BytesIO(b"\xff\xfe\x00x"), "x.csv")},
                                           content_type="multipart/form-data"),
               422, "Change many customers' status from a CSV file")
    assert agent.post(f"{bulk_url}/confirm").status_code == 303
    pages.take("bulk progress", agent.get(bulk_url), 200, "Bulk file #%(id)s", id=batch_id)
    pages.take("not found", agent.get("/requests/999999"), 404, "Page not found")
    pages.take("forbidden", agent.get("/admin/users"), 403, "You do not have access to this page")

    checker = _spanish_client(app, "checker")
    pages.take("approvals", checker.get("/approvals"), 200, "Requests waiting for approval")
    pages.take("checker status", checker.get(status_url), 200, "Status change request %(id)s", id=record_id)
    # The decision page (GET /approvals/<pk>), its errors, and the confirmation step.
    decide_url = f"/approvals/{record_id}"
    pages.take("decide", checker.get(decide_url), 200, "Approve or reject request %(id)s", id=record_id)
    pages.take("decide with errors", checker.post(decide_url, data={"step": "review"}), 422,
               "Approve or reject request %(id)s", id=record_id)
    pages.take("confirm", checker.post(decide_url, data={**DECISION, "step": "review"}), 200,
               "Approve request %(id)s?", id=record_id)

    admin = _spanish_client(app, "admin")
    admin_pages = {"/admin/users": "People", "/admin/users/new": "Add a person", "/admin/audit": "Audit trail",
                   "/admin/settings": "Settings", "/sandbox": "Trainer: the training sandbox"}
    for path, heading in admin_pages.items():
        pages.take(path, admin.get(path), 200, heading)
    # The fault list names HTTP statuses by their standard reason phrases and faults by their keys.
    pages["/sandbox"] = re.sub(r'(?s)<select id="kind".*?</select>', "", pages["/sandbox"])
    # The audit trail's rows are English records (what happened, to what), kept as written.
    pages["/admin/audit"] = re.sub(r"(?s)<tbody>.*?</tbody>", "", pages["/admin/audit"])
    return pages


def test_spanish_pages_have_no_english_left(app, tmp_path, spanish):
    pages = _spanish_pages(app, spanish)
    (tmp_path / "csrf").mkdir()
    expired = make_app(tmp_path / "csrf", WTF_CSRF_ENABLED=True).test_client()
    expired.set_cookie("lang", "es")
    stale = expired.post("/login", data={"username": "agent", "password": "x"})
    # No CSRF token: the sign-in form again, saying it expired.
    pages.take("form expired", stale, 400, "Sign in")
    assert spanish.gettext("This form expired because the page was open too long. Sign in again.") in (
        pages["form expired"])
    left = {name: _english_left(html) for name, html in pages.items()}
    assert {name: words for name, words in left.items() if words} == {}
    assert all('<html lang="es">' in html for html in pages.values())


def test_a_decided_request_tells_the_checker_in_spanish(app, spanish):
    agent = _spanish_client(app, "agent")
    status_url = agent.post("/requests", data={**SPANISH_FORM, "submission_key": "f" * 32}).headers["Location"]
    checker = _spanish_client(app, "checker")
    decided = checker.post(status_url.replace("/requests/", "/approvals/"), data={**DECISION, "step": "confirm"})
    # Approve-and-next: nothing else waits, so the queue, with what was decided.
    assert (decided.status_code, decided.headers["Location"]) == (303, "/approvals")
    queue = checker.get("/approvals").get_data(as_text=True)
    state = spanish.gettext("Approved").lower()
    outcome = spanish.gettext("Approved. Capillary now shows the request as %(state)s.") % {"state": state}
    pk = status_url.rsplit("/", 1)[1]
    assert spanish.gettext("Request %(id)s: %(result)s") % {"id": pk, "result": outcome} in queue
    assert _english_left(queue) == []
    html = checker.get(status_url).get_data(as_text=True)
    assert f">{spanish.gettext('Approved')}</span>" in html  # the state's badge
    # The decision's timeline note is stored as an English record and read back in Spanish.
    note = spanish.gettext("Approved in this app by %(who)s: “%(message)s”. %(outcome)s") % {
        "who": "Demo checker", "message": DECISION["message"],
        "outcome": spanish.gettext("Capillary changed the customer's status.")}
    assert f'<span class="note">{escape(note)}</span>' in html
    # Whole sentences about the decision, in Spanish ("Decisión: aprobar … Capillary aceptó la decisión.").
    assert spanish.gettext("Capillary took the decision.") in html


def test_a_decided_requests_page_has_no_english_left(app):
    agent = _spanish_client(app, "agent")
    status_url = agent.post("/requests", data={**SPANISH_FORM, "submission_key": "f" * 32}).headers["Location"]
    checker = _spanish_client(app, "checker")
    assert checker.post(status_url.replace("/requests/", "/approvals/"),
                        data={**DECISION, "step": "confirm"}).status_code == 303
    assert _english_left(checker.get(status_url).get_data(as_text=True)) == []


# -- no English left on Spanish pages of failures --------------------------------------------------

# A failed submission's status page, by the fault that made it fail: (fault, the state's badge).
FAILURES = {
    "gateway refused": ("400-json", "Not submitted"),
    "token rejected": ("401", "Not submitted"),
    "unknown outcome": ("500", "Outcome unknown"),
}
# The gateway's failure messages are stored in English (gateway/client.py words them for logs and
# records); pages word the failure from its kind and code instead, in the page's language.
ENGLISH_GATEWAY_MESSAGES = {
    "gateway refused": "Capillary rejected the request (400): Bad request: the request could not be processed "
                       "(code 400).",
    "token rejected": "Capillary refused the sign-in token (401): it is invalid or has expired. Capillary said: "
                      "Invalid or expired X-CAP-UI-AUTH-TOKEN (code 401)",
    "unknown outcome": "Capillary's gateway failed with an internal error (500). Capillary said: Internal server "
                       "error (code 500)",
}


def _failure_page(app, spanish, failure: str) -> tuple[str, str]:
    """The Spanish status page of a submission that failed as ``failure`` says; (HTML, stored message)."""
    fault, badge = FAILURES[failure]
    app.extensions["sandbox_app"].extensions["sandbox"].inject_fault(fault, count=1, endpoint="create")
    agent = _spanish_client(app, "agent")
    created = agent.post("/requests", data={**SPANISH_FORM, "submission_key": "9" * 32})
    assert created.status_code == 303
    pk = int(created.headers["Location"].rsplit("/", 1)[1])
    pages = SpanishPages(spanish)
    html = pages.take(failure, agent.get(created.headers["Location"]), 200, "Status change request %(id)s", id=pk)
    assert f">{spanish.gettext(badge)}</span>" in html
    with app.app_context():
        message = db.session.get(TrackedRequest, pk).error_message
    assert message == ENGLISH_GATEWAY_MESSAGES[failure]
    assert str(escape(message)) not in html  # the English record is never shown
    return html, message


@pytest.mark.parametrize("failure", FAILURES)
def test_spanish_failure_pages_have_no_english_left(app, spanish, failure):
    html, _message = _failure_page(app, spanish, failure)
    assert _english_left(html) == []
    # What happened is worded from the failure's kind; the codes only in the details line.
    assert spanish.gettext("Details for Capillary's support:") in html


# -- codes and keys are words on Spanish pages -----------------------------------------------------


def test_roles_and_identifier_types_are_words_on_spanish_pages(app, spanish):
    agent = _spanish_client(app, "agent")
    status_url = agent.post("/requests", data={**SPANISH_FORM, "submission_key": "a" * 32}).headers["Location"]
    checker = _spanish_client(app, "checker")
    decide = checker.get(status_url.replace("/requests/", "/approvals/")).get_data(as_text=True)
    assert "mobile" not in _visible_words(decide)  # the identifier key
    # "Sesión iniciada como Demo checker (revisor)": the role in words, not its key.
    assert f'<span class="account-roles">({spanish.gettext("checker")})</span>' in decide
    assert spanish.gettext("mobile number") in decide
    confirm = checker.post(status_url.replace("/requests/", "/approvals/"),
                           data={**DECISION, "step": "review"}).get_data(as_text=True)
    assert "mobile" not in _visible_words(confirm)
    forbidden = agent.get("/admin/users").get_data(as_text=True)
    assert "agent" not in _visible_words(forbidden.split("<footer")[0].split("</header>")[1])
    assert spanish.gettext("support agent") in forbidden


def test_an_admins_change_summary_is_whole_spanish_sentences(app, spanish):
    admin = _spanish_client(app, "admin")
    with app.app_context():
        from services.people import accounts
        agent_id = accounts.find_user("agent").id
    changed = admin.post(f"/admin/users/{agent_id}", data={
        "display_name": "Agente de soporte", "roles": ["agent", "checker"]}, follow_redirects=True)
    html = changed.get_data(as_text=True)
    roles = spanish.gettext("support agent") + " y " + spanish.gettext("checker")
    expected = " ".join([spanish.gettext("User %(name)s was saved.") % {"name": "agent"},
                         spanish.gettext("Roles are now: %(roles)s.") % {"roles": roles},
                         spanish.gettext("The display name was changed.")])
    assert str(escape(expected)) in html
    unchanged = admin.post(f"/admin/users/{agent_id}", data={
        "display_name": "Agente de soporte", "roles": ["agent", "checker"]}, follow_redirects=True)
    assert str(escape(spanish.gettext("Nothing was changed for user %(name)s.") % {"name": "agent"})) in (
        unchanged.get_data(as_text=True))


def test_timeline_notes_stored_in_english_are_shown_in_spanish(app, spanish):
    from services.lifecycle.wording import english_note, not_found_words, note_words

    with app.test_request_context(headers={"Cookie": "lang=es"}):
        five = english_note(not_found_words, 5)
        assert five == "Not found in Capillary's request list 5 minutes after it was sent: it was not created."
        assert note_words(five) == spanish.ngettext(
            "Not found in Capillary's request list %(num)s minute after it was sent: it was not created.",
            "Not found in Capillary's request list %(num)s minutes after it was sent: it was not created.",
            5) % {"num": 5}
        assert note_words(english_note(not_found_words, 1)).startswith("No apareció")
        failed = ("Approved by a checker: “ok”. Approved, but Capillary could not apply the change. "
                  "Customer not found: no customer in Capillary has this identifier.")
        assert _english_left(note_words(failed)) == []
        assert note_words("Something a release before wrote") == "Something a release before wrote"


def test_wtforms_own_messages_follow_the_page_language_and_are_read_once(client):
    from forms.base import wtforms_catalog

    bad = {**VALID_FORM, "identifierName": "shoe size"}
    english = client.post("/requests/new", data=bad).get_data(as_text=True)
    client.post("/language", data={"language": "es", "next": "/requests/new"})
    spanish = client.post("/requests/new", data=bad).get_data(as_text=True)
    read = wtforms_catalog.cache_info().misses
    again = [client.post("/requests/new", data=bad).get_data(as_text=True) for _ in range(2)]
    assert "Not a valid choice." in english and "Opción inválida." not in english
    assert "Opción inválida." in spanish and "Not a valid choice." not in spanish
    assert all("Opción inválida." in page for page in again)
    assert wtforms_catalog.cache_info().misses == read  # not read from disk again
