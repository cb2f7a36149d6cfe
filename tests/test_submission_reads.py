"""A submission goes from its commit to the gateway call without reading anything back, and
stores the answer with one locked read, one UPDATE and the new timeline event."""

from __future__ import annotations

from sqlalchemy import event

from extensions import db
from tests.lifecycle_helpers import record, submit


def test_the_call_follows_the_commit_without_reading_the_record_again(app, client, valid_form):
    steps: list[str] = []
    transport = app.extensions["gateway_client"].transport
    send = transport.call

    def spied_call(method, path, *args, **kwargs):  # the call goes through unchanged
        steps.append(f"CALL {method}")
        return send(method, path, *args, **kwargs)

    def statement(conn, cursor, text, *args):
        steps.append(" ".join(text.split()[:3]).upper())

    transport.call = spied_call
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", lambda conn: steps.append("COMMIT"))
    try:
        pk = submit(client, valid_form)
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        transport.call = send

    call = steps.index("CALL POST")
    stored = steps.index("INSERT INTO TRACKED_REQUESTS")
    committed = steps.index("COMMIT", stored)
    # Stored, with its audit row, and committed before the call (nothing lost if the call dies)...
    assert stored < committed < call
    assert "INSERT INTO AUDIT_EVENTS" in steps[stored:committed]
    # ...and nothing read back in between: the record and the submitter are still in hand.
    assert steps[committed + 1:call] == [], steps[committed + 1:call]
    found = record(app, pk)
    assert found.state == "AdminTask" and found.request_id
    assert found.submitted_by_id is not None  # the submitter kept in hand is the one stored

    # After the call: is an importer's copy holding the requestId? the record's row, locked;
    # one UPDATE (state and poll clock together); the event; the commit. Not the key looked up
    # twice, not the timeline or the decisions read, nothing read back after the commit.
    after = steps[call + 1:]
    assert after == ["SELECT TRACKED_REQUESTS.ID, TRACKED_REQUESTS.SUBMISSION_KEY,"] * 2 + [
        "UPDATE TRACKED_REQUESTS SET", "INSERT INTO STATUS_EVENTS", "COMMIT"], after
    looked_up = steps[:stored].count("SELECT TRACKED_REQUESTS.ID, TRACKED_REQUESTS.SUBMISSION_KEY,")
    assert looked_up <= 2  # the key, the open requests for the customer
