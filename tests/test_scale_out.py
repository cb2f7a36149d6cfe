"""Several app instances on one PostgreSQL database: one submission key, one gateway call;
one batch, every row claimed by exactly one of them."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import func, select

import gateway_setup
from extensions import db
from models import TrackedRequest
from tests.bulk_helpers import claim_next_row, make_batch
from tests.databases import postgres_schema_url
from tests.helpers import VALID_FORM, make_app, sign_in


def two_instances(tmp_path):
    """Two apps on one PostgreSQL schema, both talking to one gateway (the first app's sandbox)."""
    url = postgres_schema_url()
    first = make_app(tmp_path, {"DATABASE_URL": url})
    second = make_app(tmp_path, {"DATABASE_URL": url})
    second.extensions["sandbox_app"] = first.extensions["sandbox_app"]
    gateway_setup.init_app(second)  # rebuilds its client on the shared sandbox
    return first, second, first.extensions["sandbox_app"].extensions["sandbox"]


def test_one_submission_key_posted_to_two_instances_makes_one_gateway_call(tmp_path):
    first, second, sandbox = two_instances(tmp_path)
    sandbox.set_latency_ms(100)  # both posts are inside the app at the same time
    clients = [first.test_client(), second.test_client()]
    for client in clients:
        sign_in(client, "agent")
    rounds = 4
    for _ in range(rounds):
        form = {**VALID_FORM, "submission_key": uuid.uuid4().hex}
        start = threading.Barrier(2)
        answers = []

        def post(client, form=form, start=start, answers=answers):
            start.wait()
            answers.append(client.post("/requests", data=form))

        threads = [threading.Thread(target=post, args=(client,)) for client in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert [a.status_code for a in answers] == [303, 303]
        assert answers[0].headers["Location"] == answers[1].headers["Location"]  # the same record
    assert sandbox.created_count == rounds
    with first.app_context():
        assert db.session.scalar(select(func.count()).select_from(TrackedRequest)) == rounds


def test_two_instances_claiming_one_batch_never_take_the_same_row(tmp_path):
    first, second, _sandbox = two_instances(tmp_path)
    batch_id = make_batch(first, 60)
    taken: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def claim_all(app):
        with app.app_context():
            start.wait()
            while (claimed := claim_next_row(batch_id)) is not None:
                with lock:
                    taken.append(claimed.line)

    threads = [threading.Thread(target=claim_all, args=(app,)) for app in (first, second, first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(taken) == list(range(2, 62))
