"""Per-user Capillary tokens: encrypted at rest, write-only, used for the person's own calls, renewed after a 401."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from extensions import db
from models import AuditEvent, TrackedRequest, utcnow
from services.people import accounts, identity
from tests.helpers import VALID_FORM, make_app, signed_in_client


def jwt(**claims) -> str:
    """An unsigned-looking JWT with ``claims`` (the app never verifies it; Capillary does)."""
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk"


FUTURE = int(datetime(2031, 5, 17, 8, 30, tzinfo=UTC).timestamp())
MAKER_TOKEN = jwt(username="asha.manager@store.example", userId=424242, exp=FUTURE)


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def _submit(client, key, form=VALID_FORM):
    return client.post("/requests", data={**form, "submission_key": key})


def _set_token(client, token):
    return client.post("/profile/token", data={"token": token})


def _sent_token(sandbox) -> str:
    return {k.lower(): v for k, v in sandbox.calls[-1]["headers"].items()}["x-cap-ui-auth-token"]


def _events(app, action):
    with app.app_context():
        return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_a_token_is_stored_encrypted_and_never_shown_again(app, client):
    response = _set_token(client, MAKER_TOKEN)
    assert response.status_code == 303
    page = client.get("/profile")
    html = page.get_data(as_text=True)
    # In the person's language and time zone (none given here: English, UTC); CLDR puts a
    # narrow no-break space before "AM".
    assert re.search(r"Set · expires May 17, 2031, 8:30:00\s?AM UTC", _text(page))
    assert MAKER_TOKEN not in html and MAKER_TOKEN.split(".")[1] not in html
    # At rest: the database holds the ciphertext, and neither the token nor any part of it.
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        db.session.remove()
        db.engine.dispose()  # everything is on disk
        stored = bytes(accounts.find_user("agent").ui_token_ciphertext)
        assert identity.decrypt(stored) == MAKER_TOKEN
        if uri.startswith("sqlite:///"):  # SQLite: the database file itself
            with open(uri.removeprefix("sqlite:///"), "rb") as database:
                raw = database.read()
            assert stored in raw
        else:  # PostgreSQL: every users row as the server renders it (bytea as hex)
            raw = "\n".join(db.session.scalars(text("SELECT u::text FROM users u"))).encode()
            assert stored.hex().encode() in raw
    for piece in [MAKER_TOKEN, *MAKER_TOKEN.split("."), "asha.manager"]:
        assert piece.encode() not in raw
    (event,) = _events(app, "token.set")
    assert event.detail == "expires 2031-05-17 08:30 UTC"
    assert MAKER_TOKEN not in event.detail


def test_submissions_use_the_persons_own_token(app, client, sandbox):
    assert _submit(client, "a" * 32).status_code == 303
    assert _sent_token(sandbox) == app.config["CAP_UI_AUTH_TOKEN"]  # none stored: the shared one
    _set_token(client, MAKER_TOKEN)
    assert _submit(client, "b" * 32).status_code == 303
    assert _sent_token(sandbox) == MAKER_TOKEN
    with app.app_context():
        record = db.session.scalars(select(TrackedRequest).order_by(TrackedRequest.id.desc())).first()
        # Capillary (here the sandbox) names the maker from the token: the person, not the shared user.
        assert record.maker_user_name == "asha.manager@store.example"
        assert record.maker_user_id == 424242


def test_each_person_uses_their_own(app, client, maker_client, sandbox):
    _set_token(client, MAKER_TOKEN)
    other = jwt(username="store.manager@store.example", exp=FUTURE)
    _set_token(maker_client, other)
    _submit(maker_client, "c" * 32)
    assert _sent_token(sandbox) == other
    _submit(client, "d" * 32)
    assert _sent_token(sandbox) == MAKER_TOKEN


def test_approvals_use_the_checkers_own_token(app, client, checker_client, sandbox):
    checker_token = jwt(username="checker.person@store.example", exp=FUTURE)
    _set_token(checker_client, checker_token)
    _submit(client, "e" * 32)
    with app.app_context():
        pk = db.session.scalar(select(TrackedRequest.id))
    response = checker_client.post(f"/approvals/{pk}", data={"decision": "approved", "message": "ok",
                                                              "step": "confirm"})
    assert response.status_code == 303
    decide = [c for c in sandbox.calls if c["method"] == "PUT"][-1]
    assert {k.lower(): v for k, v in decide["headers"].items()}["x-cap-ui-auth-token"] == checker_token


def test_a_401_marks_the_own_token_rejected_and_says_to_renew_it(app, client, sandbox):
    _set_token(client, MAKER_TOKEN)
    sandbox.inject_fault("401", count=1, endpoint="create")
    response = _submit(client, "f" * 32)
    status_page = client.get(response.headers["Location"])
    text = _text(status_page)
    assert "marked as rejected" in text and "profile" in text
    assert "Capillary rejected your own token" in text  # the banner on every page
    assert 'href="/profile"' in status_page.get_data(as_text=True)
    with app.app_context():
        assert accounts.find_user("agent").token_state() == "rejected"
    assert len(_events(app, "token.rejected")) == 1
    # Until renewed, nothing more is sent with it: the form comes back with what was typed.
    calls = len(sandbox.calls)
    blocked = client.post("/requests/new", data=VALID_FORM)
    assert blocked.status_code == 409
    assert "Suspected fraud at till 3" in blocked.get_data(as_text=True)
    assert _submit(client, "g" * 32).status_code == 409
    assert len(sandbox.calls) == calls
    profile = _text(client.get("/profile"))
    assert "Rejected by Capillary" in profile
    # A new token clears it.
    fresh = jwt(username="asha.manager@store.example", exp=FUTURE, n=2)
    assert _set_token(client, fresh).status_code == 303
    assert _submit(client, "h" * 32).status_code == 303
    assert _sent_token(sandbox) == fresh


def test_a_401_with_the_shared_token_marks_nobody(app, client, sandbox):
    sandbox.inject_fault("401", count=1, endpoint="create")
    _submit(client, "i" * 32)
    with app.app_context():
        assert accounts.find_user("agent").token_state() == "none"
    assert _events(app, "token.rejected") == []


def test_a_token_that_expired_is_not_used(app, client, sandbox):
    _set_token(client, MAKER_TOKEN)
    with app.app_context():
        user = accounts.find_user("agent")
        user.ui_token_expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    response = client.post("/requests/new", data=VALID_FORM)
    assert response.status_code == 409
    assert "Your own Capillary token expired" in _text(response)
    assert sandbox.created_count == 0
    assert "Expired" in _text(client.get("/profile"))


def test_the_shared_token_is_never_a_silent_substitute(app, client):
    _set_token(client, MAKER_TOKEN)
    with app.app_context():
        user = accounts.find_user("agent")
        user.ui_token_rejected_at = utcnow()
        with pytest.raises(identity.OwnTokenUnusable, match="Set a new one on your profile"):
            identity.token_for(identity.MAKER, user)


@pytest.mark.parametrize(("token", "message"), [
    ("", "Paste the token."),
    ("short", "That does not look like a token"),
    ("has spaces in it but is long enough", "That does not look like a token"),
    (jwt(username="x", exp=int(datetime(2020, 1, 1, tzinfo=UTC).timestamp())), "That token expired on 2020-01-01"),
])
def test_bad_tokens_are_explained(app, client, token, message):
    response = _set_token(client, token)
    assert response.status_code == 422
    assert message in _text(response)
    with app.app_context():
        assert accounts.find_user("agent").token_state() == "none"
    if token:
        assert token not in response.get_data(as_text=True)  # not echoed back


def test_tokens_without_a_readable_expiry_are_accepted(client):
    opaque = "opaque-session-token-0123456789abcdef"
    assert _set_token(client, opaque).status_code == 303
    assert "Set · no expiry in the token" in _text(client.get("/profile"))


def test_clearing_goes_back_to_the_shared_token(app, client, sandbox):
    _set_token(client, MAKER_TOKEN)
    assert client.post("/profile/token/clear").status_code == 303
    assert "Not set" in _text(client.get("/profile"))
    _submit(client, "j" * 32)
    assert _sent_token(sandbox) == app.config["CAP_UI_AUTH_TOKEN"]
    assert len(_events(app, "token.cleared")) == 1


def test_keys_rotate_and_a_lost_key_is_explained(tmp_path):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    first = make_app(tmp_path, {"CAP_TOKEN_KEY": old_key})
    client = signed_in_client(first, "agent")
    _set_token(client, MAKER_TOKEN)
    rotated = make_app(tmp_path, {"CAP_TOKEN_KEY": f"{new_key},{old_key}"})  # same database
    with rotated.app_context():
        assert identity.token_for(identity.MAKER, accounts.find_user("agent")) == MAKER_TOKEN
        assert identity.decrypt(identity.encrypt("x" * 20)) == "x" * 20
        assert Fernet(new_key).decrypt(identity.encrypt("y" * 20)) == b"y" * 20  # new key encrypts
    lost = make_app(tmp_path, {"CAP_TOKEN_KEY": new_key})
    lost_client = signed_in_client(lost, "agent")
    response = _submit(lost_client, "k" * 32)
    assert "can no longer be read" in _text(lost_client.get(response.headers["Location"]))


def test_a_malformed_key_stops_start_up_without_echoing_it(tmp_path):
    with pytest.raises(SystemExit) as stopped:
        make_app(tmp_path, {"CAP_TOKEN_KEY": "not-a-fernet-key-SECRETVALUE"})
    assert "CAP_TOKEN_KEY" in str(stopped.value)
    assert "SECRETVALUE" not in str(stopped.value)


def test_real_mode_requires_the_token_key(tmp_path):
    from tests.test_config import REAL

    with pytest.raises(SystemExit, match="CAP_TOKEN_KEY"):
        make_app(tmp_path, {k: v for k, v in REAL.items() if k != "CAP_TOKEN_KEY"})


@pytest.mark.parametrize(("token", "expected"), [
    (jwt(exp=FUTURE), datetime(2031, 5, 17, 8, 30)),
    (jwt(exp=str(FUTURE)), None),
    (jwt(sub="x"), None),
    ("a.b.c", None),
    ("not-a-jwt-at-all", None),
    (jwt(exp=10**20), None),
])
def test_the_expiry_is_read_without_trusting_anything_else(token, expected):
    assert identity.token_expiry(token) == expected
