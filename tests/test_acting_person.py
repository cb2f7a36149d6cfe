"""Whose Capillary token reads a request: its submitter's or the deployment's, never the viewer's.

A status page refreshes the request from Capillary. Asking with the token of whoever happens to
look at it recorded *their* token's failure on somebody else's request, for everybody to see.
"""

from __future__ import annotations

from datetime import timedelta

from extensions import db
from models import TrackedRequest, User, utcnow
from tests.lifecycle_helpers import set_times, submit
from tests.test_tokens import FUTURE, jwt

CHECKERS_TOKEN = jwt(username="chris.checker@store.example", userId=777, exp=FUTURE)
MAKERS_TOKEN = jwt(username="asha.manager@store.example", userId=424242, exp=FUTURE)


def _expire_own_token(app, username: str) -> None:
    with app.app_context():
        user = db.session.query(User).filter_by(username=username).one()
        user.ui_token_expires_at = utcnow() - timedelta(hours=1)
        db.session.commit()


def _read_tokens(sandbox) -> list[str]:
    return [{k.lower(): v for k, v in call["headers"].items()}["x-cap-ui-auth-token"]
            for call in sandbox.calls if call["method"] == "GET"]


def test_a_viewers_expired_own_token_never_reads_someone_elses_request(app, maker_client, checker_client,
                                                                       sandbox, valid_form):
    assert checker_client.post("/profile/token", data={"token": CHECKERS_TOKEN}).status_code == 303
    _expire_own_token(app, "checker")
    pk = submit(maker_client, valid_form)  # the maker has no token of their own: the deployment's
    set_times(app, pk, last_polled_at=3600)

    checker_client.get(f"/requests/{pk}")

    with app.app_context():
        record = db.session.get(TrackedRequest, pk)
        assert record.refresh_error is None, record.refresh_error
    assert _read_tokens(sandbox) == [app.config["CAP_UI_AUTH_TOKEN"]]
    # The maker, reading their own request, sees no word about the checker's token either.
    assert "token expired" not in maker_client.get(f"/requests/{pk}").get_data(as_text=True)


def test_a_request_is_read_with_its_submitters_own_token_when_it_is_usable(app, maker_client, checker_client,
                                                                          sandbox, valid_form):
    assert maker_client.post("/profile/token", data={"token": MAKERS_TOKEN}).status_code == 303
    assert checker_client.post("/profile/token", data={"token": CHECKERS_TOKEN}).status_code == 303
    pk = submit(maker_client, valid_form)
    set_times(app, pk, last_polled_at=3600)
    checker_client.get(f"/requests/{pk}")
    assert _read_tokens(sandbox) == [MAKERS_TOKEN]

    # Once the submitter's own token is unusable, reading falls back to the deployment's (a read
    # records no maker), and says nothing about anyone's token.
    _expire_own_token(app, "maker")
    set_times(app, pk, last_polled_at=3600)
    checker_client.get(f"/requests/{pk}")
    assert _read_tokens(sandbox)[-1] == app.config["CAP_UI_AUTH_TOKEN"]
    with app.app_context():
        assert db.session.get(TrackedRequest, pk).refresh_error is None

