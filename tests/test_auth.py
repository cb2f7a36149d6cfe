"""Sign-in, sign-out, sign-in required everywhere, session limits, rate limits, carried form values."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from extensions import db
from models import AuditEvent, TrackedRequest, utcnow
from services.people import accounts
from tests.helpers import TEST_REDIS_URL, VALID_FORM, make_app, sign_in, signed_in_client
from views.access import PUBLIC_ENDPOINTS, SEEN_AT, SIGNED_IN_AT


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def _events(app, action):
    with app.app_context():
        return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def _add_user(app, name="dana", password="correct horse battery", roles=("agent",), **kwargs):  # noqa: S107
    with app.app_context():
        user = accounts.create_user(name, roles, password, actor=None, actor_name="test", **kwargs)
        db.session.commit()
        return user.id


# -- every page needs sign-in -----------------------------------------------------------------------


def _get_routes(app):
    """Every GET route with its arguments filled by a harmless value."""
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        yield rule.endpoint, re.sub(r"<(?:[^:>]+:)?([^>]+)>", "1", rule.rule)


# Pages that must be among those checked (the sweep covers every GET route, later ones too).
PAGES = {"/", "/requests/new", "/requests", "/requests/1", "/requests/1/live", "/requests/export.csv",
         "/approvals", "/approvals/1", "/bulk", "/bulk/1", "/bulk/1/progress.json", "/bulk/1/results.csv",
         "/bulk/template.csv", "/admin", "/admin/users", "/admin/users/new", "/admin/users/1", "/admin/audit",
         "/admin/audit.csv", "/admin/settings", "/profile", "/sandbox", "/session/status"}


def test_every_page_but_sign_in_health_and_static_needs_sign_in(app):
    anonymous = app.test_client()
    routes = list(_get_routes(app))
    assert sorted(PAGES - {path for _endpoint, path in routes}) == []
    for endpoint, path in routes:
        response = anonymous.get(path)
        assert response.status_code in (302, 401), (endpoint, path, response.status_code)
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/login"), (endpoint, path)
    # Unknown addresses too: nothing is revealed before sign-in.
    assert anonymous.get("/no/such/page").headers["Location"].startswith("/login")
    assert anonymous.post("/requests", data=VALID_FORM).status_code in (303, 401)
    with app.app_context():
        assert db.session.scalar(select(TrackedRequest.id)) is None


def test_sign_in_page_health_and_static_are_open(app):
    anonymous = app.test_client()
    assert anonymous.get("/login").status_code == 200
    with anonymous.get("/static/css/app.css") as static:
        assert static.status_code == 200
    health = anonymous.get("/healthz")
    assert "Location" not in health.headers  # never sent to the sign-in page
    assert health.status_code == 200
    assert anonymous.get("/readyz").status_code == 200


def test_scripts_get_a_json_401_not_a_redirect(app):
    response = app.test_client().get("/session/status", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["signedIn"] is False


# -- sign-in ----------------------------------------------------------------------------------------


def test_sign_in_then_back_to_the_page_asked_for(app):
    client = app.test_client()
    first = client.get("/profile")
    assert first.headers["Location"] == "/login?next=/profile"
    response = client.post("/login?next=/profile", data={"username": "agent", "password": "help-desk-sandbox"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/profile"
    assert "Signed in as" in _text(client.get("/profile"))
    (event,) = _events(app, "auth.sign_in")
    assert (event.actor_name, event.ip) == ("agent", "127.0.0.1")


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example",
                                    "javascript:alert(1)"])
def test_next_never_leads_off_site(app, target):
    client = app.test_client()
    response = client.post(f"/login?next={target}", data={"username": "agent", "password": "help-desk-sandbox"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/requests/new"


def test_a_new_session_at_sign_in(app):
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    sign_in(client, "agent")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] and session["_fresh"] is True
        assert isinstance(session[SIGNED_IN_AT], int)


@pytest.mark.parametrize(("username", "password", "reason"), [
    ("agent", "not-the-password", "wrong password"),
    ("nobody-here", "whatever-it-is", "unknown user"),
])
def test_wrong_credentials_get_one_message_and_an_audit_event(app, username, password, reason):
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 401
    assert "The username or password is not right" in _text(response)
    assert 'value="' + password not in response.get_data(as_text=True)
    (event,) = _events(app, "auth.sign_in_failed")
    assert event.detail == reason
    assert event.actor_id is None
    # A name that is no account (maybe a password typed in the wrong box) is not recorded.
    assert event.target == ("user agent" if reason == "wrong password" else "unknown username")
    assert "Signed in as" not in _text(client.get("/login"))


def test_empty_fields_are_explained(app):
    response = app.test_client().post("/login", data={"username": "", "password": ""})
    assert response.status_code == 422
    text = _text(response)
    assert "Enter your username." in text and "Enter your password." in text


def test_disabled_users_cannot_sign_in_and_lose_their_session(app):
    _add_user(app)
    client = app.test_client()
    sign_in(client, "dana", "correct horse battery")
    assert client.get("/profile").status_code == 200
    with app.app_context():
        accounts.set_disabled(accounts.find_user("dana"), True, actor=None, actor_name="test")
        db.session.commit()
    assert client.get("/profile").headers["Location"].startswith("/login")
    again = app.test_client().post("/login", data={"username": "dana", "password": "correct horse battery"})
    assert again.status_code == 401
    assert "This account is disabled" in _text(again)
    assert _events(app, "auth.sign_in_failed")[-1].detail == "disabled"


def test_usernames_are_case_insensitive(app):
    client = app.test_client()
    assert client.post("/login", data={"username": " Agent ", "password": "help-desk-sandbox"}).status_code == 303


# -- sign-out -------------------------------------------------------------------------------------------


def test_sign_out_is_a_post_and_ends_every_session(app):
    client = signed_in_client(app, "agent")
    other_device = signed_in_client(app, "agent")
    stolen = client.get_cookie("session").value
    assert client.get("/logout").status_code == 405  # never a GET: a link or image cannot sign anyone out
    page = client.get("/requests/new").get_data(as_text=True)
    assert re.search(r'<form method="post" action="/logout"', page)
    response = client.post("/logout")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?reason=signed_out"
    assert "You have signed out." in _text(client.get(response.headers["Location"]))
    assert client.get("/profile").status_code == 302
    assert other_device.get("/profile").status_code == 302  # sign-out ends the person's sessions
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get("/profile").status_code == 302  # a copied cookie is worthless after sign-out
    assert len(_events(app, "auth.sign_out")) == 1


def test_sign_out_needs_its_csrf_token(tmp_path):
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    client = signed_in_client(app, "agent")
    response = client.post("/logout")
    assert response.status_code == 400
    assert "This form expired" in _text(response)
    assert client.get("/profile").status_code == 200  # still signed in


# -- session limits --------------------------------------------------------------------------------


def _age_session(client, *, idle=0, signed_in=0):
    with client.session_transaction() as session:
        session[SEEN_AT] -= idle
        session[SIGNED_IN_AT] -= signed_in


def test_idle_timeout_signs_out_and_says_why(app):
    client = signed_in_client(app, "agent")
    _age_session(client, idle=29 * 60)
    assert client.get("/profile").status_code == 200  # 29 minutes idle: still in (and now active again)
    _age_session(client, idle=31 * 60)
    response = client.get("/profile")
    assert response.status_code == 302
    assert "reason=idle" in response.headers["Location"]
    assert "no activity for a while" in _text(client.get(response.headers["Location"]))
    assert client.get("/profile").status_code == 302
    (event,) = _events(app, "auth.timed_out")
    assert event.detail == "no activity"


def test_idle_timeout_follows_the_setting(tmp_path):
    app = make_app(tmp_path, {"CAP_IDLE_TIMEOUT_MINUTES": "5", "CAP_IDLE_WARNING_SECONDS": "60"})
    client = signed_in_client(app, "agent")
    page = client.get("/profile").get_data(as_text=True)
    assert 'data-idle-seconds="300"' in page and 'data-warning-seconds="60"' in page
    _age_session(client, idle=6 * 60)
    assert "reason=idle" in client.get("/profile").headers["Location"]


def test_absolute_session_limit(app):
    client = signed_in_client(app, "agent")
    _age_session(client, signed_in=13 * 3600)
    response = client.get("/profile")
    assert "reason=too_long" in response.headers["Location"]


def test_stay_signed_in_extends_but_background_polls_do_not(app):
    client = signed_in_client(app, "agent")
    _age_session(client, idle=25 * 60)
    status = client.get("/session/status", headers={"Accept": "application/json"}).get_json()
    assert 4 * 60 <= status["secondsLeft"] <= 5 * 60  # a status check is not activity
    assert status["warningSeconds"] == 120
    kept = client.post("/session/keep-alive", headers={"Accept": "application/json"})
    assert kept.status_code == 200
    assert kept.get_json()["secondsLeft"] >= 29 * 60  # "stay signed in" restarts the idle clock


def test_the_warning_is_on_every_signed_in_page_and_the_script_is_external(client):
    html = client.get("/profile").get_data(as_text=True)
    assert 'id="session-warning"' in html and 'role="alertdialog"' in html
    assert "Stay signed in" in html
    assert '<script src="/static/js/session.js" defer></script>' in html
    with client.get("/static/js/session.js") as script:
        assert script.status_code == 200


def test_a_cookie_from_another_browser_is_emptied(app):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = "browser-one"
    sign_in(client, "agent")
    assert client.get("/profile").status_code == 200
    client.environ_base["HTTP_USER_AGENT"] = "browser-two"  # Flask-Login "strong" session protection
    assert client.get("/profile").status_code == 302


# -- a form posted after the session ended is not lost -----------------------------------------------


def test_form_values_survive_a_session_that_ended(app):
    client = signed_in_client(app, "agent")
    _age_session(client, idle=31 * 60)
    form = {**VALID_FORM, "reason": "Kept across sign-in", "submission_key": "c" * 32}
    response = client.post("/requests/new", data=form)
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "Sign in" in html and "What you typed on the last page is kept" in html
    assert 'name="carry-reason" value="Kept across sign-in"' in html
    carried = dict(re.findall(r'name="(carry-[^"]+|resume)" value="([^"]*)"', html))
    resumed = client.post("/login", data={"username": "agent", "password": "help-desk-sandbox", **carried})
    assert resumed.status_code == 200
    page = resumed.get_data(as_text=True)
    assert "Kept across sign-in" in page and 'value="9780375690"' in page
    assert "Check request" in page  # shown again, not sent
    with app.app_context():
        assert db.session.scalar(select(TrackedRequest.id)) is None


@pytest.mark.parametrize("resume", [
    "/admin/settings",  # no form there
    "/admin/users/new",  # a form, but not for an agent
    "https://evil.example/requests/new",
    "//evil.example/requests/new",
])
def test_resume_is_only_for_form_pages_the_person_may_open(app, resume):
    client = app.test_client()
    response = client.post("/login", data={"username": "agent", "password": "help-desk-sandbox",
                                           "resume": resume, "carry-username": "x"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/requests/new"


def test_a_decision_typed_before_the_session_ended_comes_back(app, client, checker_client):
    client.post("/requests", data={**VALID_FORM, "submission_key": "d" * 32})
    with app.app_context():
        pk = db.session.scalar(select(TrackedRequest.id))
    _age_session(checker_client, idle=31 * 60)
    form = {"decision": "rejected", "message": "Wrong till, please redo", "step": "review"}
    response = checker_client.post(f"/approvals/{pk}", data=form)
    assert response.status_code == 401
    carried = dict(re.findall(r'name="(carry-[^"]+|resume)" value="([^"]*)"', response.get_data(as_text=True)))
    assert carried["resume"] == f"/approvals/{pk}"
    resumed = checker_client.post("/login", data={"username": "checker", "password": "second-pair-of-eyes",
                                                  **carried})
    html = resumed.get_data(as_text=True)
    assert resumed.status_code == 200
    assert "Wrong till, please redo" in html and "nothing was sent" in html
    with app.app_context():
        assert db.session.get(TrackedRequest, pk).state == "AdminTask"


def test_csrf_failure_on_any_registered_form_keeps_the_values(tmp_path):
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    client = signed_in_client(app, "admin")
    response = client.post("/admin/users/new", data={"username": "erin", "display_name": "Erin Example",
                                                     "roles": "agent", "password": "a long enough pass"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "This form expired" in html
    assert 'value="erin"' in html and 'value="Erin Example"' in html
    assert "a long enough pass" not in html  # passwords are never echoed back
    assert re.search(r'name="csrf_token" type="hidden" value="[^"]+"', html)  # a fresh token to try again


def test_sign_in_form_expired_keeps_the_username(tmp_path):
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    response = app.test_client().post("/login", data={"username": "agent", "password": "help-desk-sandbox"})
    assert response.status_code == 400
    assert 'value="agent"' in response.get_data(as_text=True)
    assert "This form expired" in _text(response)


# -- rate limits -----------------------------------------------------------------------------------------


def test_sign_in_is_rate_limited_per_address(tmp_path):
    app = make_app(tmp_path, {"CAP_LOGIN_RATE_LIMIT": "3 per minute", "CAP_LOGIN_ACCOUNT_RATE_LIMIT": "100 per minute"})
    client = app.test_client()
    for name in ("a1", "a2", "a3"):
        assert client.post("/login", data={"username": name, "password": "x" * 12}).status_code == 401
    blocked = client.post("/login", data={"username": "agent", "password": "help-desk-sandbox"})
    assert blocked.status_code == 429
    assert "Too many sign-in attempts" in _text(blocked)
    assert int(blocked.headers["Retry-After"]) > 0
    # Another address is counted on its own.
    elsewhere = client.post("/login", data={"username": "agent", "password": "help-desk-sandbox"},
                            environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert elsewhere.status_code == 303


def test_failed_attempts_are_limited_per_account(tmp_path):
    app = make_app(tmp_path, {"CAP_LOGIN_RATE_LIMIT": "100 per minute", "CAP_LOGIN_ACCOUNT_RATE_LIMIT": "3 per minute"})
    client = app.test_client()
    assert client.post("/login", data={"username": "checker", "password": "second-pair-of-eyes"}).status_code == 303
    for _ in range(3):  # successes do not count; failures do
        response = client.post("/login", data={"username": "agent", "password": "guess-number-1"},
                               environ_base={"REMOTE_ADDR": "10.0.0.1"})
        assert response.status_code == 401
    locked = client.post("/login", data={"username": "agent", "password": "guess-number-2"},
                         environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert locked.status_code == 429
    other = client.post("/login", data={"username": "maker", "password": "till-and-counter"},
                        environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert other.status_code == 303  # other accounts are unaffected


def test_nobody_can_lock_an_account_out_from_elsewhere(tmp_path):
    """Security finding 8 of issue 11: failures from one address locked the account everywhere."""
    app = make_app(tmp_path, {"CAP_LOGIN_RATE_LIMIT": "100 per minute", "CAP_LOGIN_ACCOUNT_RATE_LIMIT": "3 per minute"})
    client = app.test_client()
    for _ in range(5):  # a stranger fails on purpose
        client.post("/login", data={"username": "agent", "password": "guess-number-1"},
                    environ_base={"REMOTE_ADDR": "198.51.100.7"})
    stranger = client.post("/login", data={"username": "agent", "password": "help-desk-sandbox"},
                           environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert stranger.status_code == 429  # the stranger's address is held back, even with the password
    owner = app.test_client().post("/login", data={"username": "agent", "password": "help-desk-sandbox"},
                                   environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert owner.status_code == 303  # the owner, at their own till, signs in


def test_failed_attempts_at_one_account_from_every_address_have_a_ceiling(tmp_path):
    app = make_app(tmp_path, {"CAP_LOGIN_RATE_LIMIT": "100 per minute",
                              "CAP_LOGIN_ACCOUNT_RATE_LIMIT": "100 per minute",
                              "CAP_LOGIN_ACCOUNT_ANYWHERE_LIMIT": "4 per minute"})
    client = app.test_client()
    for n in range(4):
        response = client.post("/login", data={"username": "agent", "password": "guess-number-1"},
                               environ_base={"REMOTE_ADDR": f"10.0.1.{n}"})
        assert response.status_code == 401
    blocked = client.post("/login", data={"username": "agent", "password": "guess-number-2"},
                          environ_base={"REMOTE_ADDR": "10.0.1.99"})
    assert blocked.status_code == 429


def test_gunicorn_warns_that_limits_multiply_without_redis(tmp_path):
    """README says it; gunicorn.conf.py says it at start-up, naming the worker count."""
    from tests.browser.servers import base_environment
    from tests.deploy_servers import GunicornProcess

    env = base_environment(DATABASE_URL=f"sqlite:///{tmp_path / 'limits.sqlite3'}", CAP_GATEWAY_URL="sandbox",
                           CAP_SYNC_INTERVAL_SECONDS="0")
    server = GunicornProcess("gunicorn-limits", env, tmp_path, workers=2, threads=1)
    server.flask("db", "upgrade")
    server.start()
    server.stop()
    assert "Sign-in limits are counted by each of the 2 workers on its own (no REDIS_URL)" in server.log()


@pytest.mark.redis
def test_sign_in_limit_counts_in_redis_when_configured(tmp_path):
    from redis import Redis

    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    environ = {"REDIS_URL": TEST_REDIS_URL, "CAP_LOGIN_RATE_LIMIT": "2 per minute"}
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
    first = make_app(tmp_path / "one", environ)
    assert first.config["RATELIMIT_STORAGE_URI"] == TEST_REDIS_URL
    name = f"nobody-{uuid.uuid4().hex[:10]}"
    attempt = {"data": {"username": name, "password": "y" * 12}, "environ_base": {"REMOTE_ADDR": address}}
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        for _ in range(2):
            assert first.test_client().post("/login", **attempt).status_code == 401
        assert list(redis.scan_iter(match=f"*{address}*"))  # the counters live in Redis
        # A second app (another worker) shares the counters: the limit is already reached there.
        second = make_app(tmp_path / "two", environ)
        assert second.test_client().post("/login", **attempt).status_code == 429
    finally:
        for pattern in (f"*{address}*", f"*{name}*"):
            for key in redis.scan_iter(match=pattern):
                redis.delete(key)
        redis.close()


def test_memory_is_the_default_rate_limit_store(app):
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"


# -- password change ---------------------------------------------------------------------------------


def test_people_change_their_own_password(app):
    _add_user(app, "fern", "first password here")
    client = app.test_client()
    sign_in(client, "fern", "first password here")
    other = app.test_client()
    sign_in(other, "fern", "first password here")
    wrong = client.post("/profile/password", data={"current": "nope nope nope", "new": "second password here",
                                                   "confirm": "second password here"})
    assert wrong.status_code == 422 and "That is not your current password." in _text(wrong)
    short = client.post("/profile/password", data={"current": "first password here", "new": "short",
                                                   "confirm": "short"})
    assert short.status_code == 422 and "at least 12 characters" in _text(short)
    done = client.post("/profile/password", data={"current": "first password here", "new": "second password here",
                                                  "confirm": "second password here"})
    assert done.status_code == 303
    assert client.get("/profile").status_code == 200  # this session goes on
    assert other.get("/profile").status_code == 302  # the others end
    old = app.test_client().post("/login", data={"username": "fern", "password": "first password here"})
    assert old.status_code == 401
    sign_in(app.test_client(), "fern", "second password here")
    assert len(_events(app, "password.changed")) == 1


def test_passwords_are_stored_as_salted_scrypt_hashes(app):
    _add_user(app, "gus", "the same password")
    _add_user(app, "hal", "the same password")
    with app.app_context():
        gus, hal = accounts.find_user("gus"), accounts.find_user("hal")
        assert gus.password_hash.startswith("scrypt:") and hal.password_hash.startswith("scrypt:")
        assert gus.password_hash != hal.password_hash  # salted
        assert "the same password" not in gus.password_hash


def test_production_hashing_uses_scrypt_defaults(tmp_path):
    app = make_app(tmp_path, PASSWORD_HASH_METHOD="scrypt")
    _add_user(app, "ivy", "a password for her")
    with app.app_context():
        assert accounts.find_user("ivy").password_hash.startswith("scrypt:32768:8:1$")


def test_demo_people_exist_only_in_the_sandbox(app, tmp_path):
    from tests.test_config import REAL

    page = _text(app.test_client().get("/login"))
    assert "Training sandbox: demo people" in page and "help-desk-sandbox" in page
    (tmp_path / "real").mkdir()
    real = make_app(tmp_path / "real", REAL)
    with real.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(accounts.User)) == 0
    real_page = _text(real.test_client().get("/login"))
    assert "demo people" not in real_page and "help-desk-sandbox" not in real_page


def test_sign_in_records_the_time(app):
    with app.app_context():
        assert accounts.find_user("agent").last_sign_in_at is None
    signed_in_client(app, "agent")
    with app.app_context():
        assert utcnow() - accounts.find_user("agent").last_sign_in_at < timedelta(minutes=1)


def test_a_database_failure_is_explained_not_mistaken_for_signing_out(app, client):
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("ALTER TABLE users RENAME TO users_gone"))
    response = client.get("/requests")
    assert response.status_code == 503
    assert "The app&#39;s database is not available" in response.get_data(as_text=True)
    login = app.test_client().get("/login")
    assert login.status_code == 200  # signed out visitors still see the sign-in page
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("ALTER TABLE users_gone RENAME TO users"))
    assert client.get("/requests").status_code == 200  # and it recovers by itself
