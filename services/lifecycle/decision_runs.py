"""One decision and one message for many waiting requests, sent by a background job.

:func:`create_run` stores the run and one item per request (the checker's own requests as
``skipped``, with the reason: maker-checker rule); the run's key makes a double submit one run.
:func:`run_decisions` is the job: worker threads, as many as bulk sending uses
(``CAP_BULK_CONCURRENCY`` calls in flight), each claim the next pending item with an UPDATE
only one thread can win and decide its request with :func:`services.lifecycle.decisions.decide`,
which claims the decision in the database before its one PUT, exactly as a single decision; a
permit from the shared rate limit (:mod:`services.bulk.throttle`) is taken right before each PUT. So a second run, or
another checker, on the same requests never sends a second PUT: the later claim is refused.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import TrackedRequest, User, utcnow
from models.decision_runs import (
    ITEM_FINISHED,
    ITEM_PENDING,
    ITEM_REFUSED,
    ITEM_SENDING,
    ITEM_SENT,
    ITEM_SKIPPED,
    ITEM_UNKNOWN,
    RUN_DONE,
    DecisionRun,
    DecisionRunItem,
)
from services.bulk.throttle import Throttle, app_throttle
from services.lifecycle import decisions
from services.people import audit

log = logging.getLogger(__name__)

MAX_REQUESTS = 5000  # one run at most; a bigger queue is decided in several
_STATUS_OF = {"ok": ITEM_SENT, "unknown": ITEM_UNKNOWN, "refused": ITEM_REFUSED}


class RunRefused(ValueError):
    """The run cannot be made; the message says why in plain words."""


@dataclass(frozen=True)
class Progress:
    """How far a run is: counts per item state."""

    total: int
    counts: dict[str, int]

    @property
    def finished(self) -> int:
        """Items whose outcome is known (sent, unknown, refused or skipped)."""
        return sum(self.counts.get(status, 0) for status in ITEM_FINISHED)

    @property
    def done(self) -> bool:
        """Whether every item is finished."""
        return self.finished >= self.total


def own_requests(records: list[TrackedRequest], actor: User | None) -> set[int]:
    """The ids of ``records`` that ``actor`` submitted (never theirs to decide)."""
    if actor is None or actor.id is None:
        return set()
    return {r.id for r in records if r.submitted_by_id == actor.id}


def create_run(records: list[TrackedRequest], decision: str, message: str, run_key: str, *,
               actor: User | None, locale: str = "en") -> tuple[DecisionRun, bool]:
    """Store a run deciding ``records`` (in this order); return ``(run, made now)``. Commits.

    The same ``run_key`` again (a double submit) returns the run made the first time. Raise
    :class:`RunRefused` when nothing can be decided (no requests, too many, a bad message).
    """
    existing = db.session.scalar(select(DecisionRun).where(DecisionRun.run_key == run_key))
    if existing is not None:
        return existing, False
    if not records:
        raise RunRefused(_("Choose at least one request."))
    if len(records) > MAX_REQUESTS:
        raise RunRefused(_("At most %(max)s requests can be decided at once; narrow the filters.", max=MAX_REQUESTS))
    text = (message or "").strip()
    refused = decisions.check_message(decision, text)
    if refused:
        raise RunRefused(" ".join(refused.values()))
    own = own_requests(records, actor)
    run = DecisionRun(run_key=run_key, decision=decision, message=text, locale=locale, total=len(records),
                      created_by_id=actor.id if actor else None, created_by_name=actor.name if actor else None)
    db.session.add(run)
    db.session.flush()
    now = utcnow()
    with force_locale(locale):
        mine = _("Skipped: you submitted this request, so another checker must decide it (maker-checker rule).")
    db.session.add_all(
        DecisionRunItem(run_id=run.id, tracked_pk=record.id, position=n,
                        status=ITEM_SKIPPED if record.id in own else ITEM_PENDING,
                        result=mine if record.id in own else None, finished_at=now if record.id in own else None)
        for n, record in enumerate(records)
    )
    audit.record("request.decided_many", actor=actor, target=f"decision run {run.id}",
                 detail=f"{decision} {len(records)} request(s): {text}"[:300])
    try:
        db.session.commit()
    except IntegrityError:  # the same key, posted twice at the same moment: the first one stands
        db.session.rollback()
        return db.session.scalars(select(DecisionRun).where(DecisionRun.run_key == run_key)).one(), False
    return run, True


def progress(run: DecisionRun) -> Progress:
    """Count the run's items by state."""
    rows = db.session.execute(
        select(DecisionRunItem.status, func.count()).where(DecisionRunItem.run_id == run.id)
        .group_by(DecisionRunItem.status)
    ).all()
    return Progress(run.total, {status: count for status, count in rows})


def results(run: DecisionRun) -> list[tuple[DecisionRunItem, TrackedRequest]]:
    """The run's items with their requests, in the order the checker saw them."""
    return list(db.session.execute(
        select(DecisionRunItem, TrackedRequest).join(TrackedRequest, TrackedRequest.id == DecisionRunItem.tracked_pk)
        .where(DecisionRunItem.run_id == run.id).order_by(DecisionRunItem.position)
    ).tuples())


def run_decisions(run_id: int, *, should_stop: Callable[[], bool] = lambda: False) -> int:
    """Send the run's pending decisions; return how many this call finished.

    Safe to run twice at once: items are claimed one by one in the database. (An item a crashed
    worker left in ``sending`` stays so; its request's decision claim is settled by the status
    refresh and the sync, as a single decision's is.)

    Twice ``CAP_BULK_CONCURRENCY`` threads work (as bulk sending's), but only that many calls are in
    flight (a slot, held around the PUT only): while some threads wait for Capillary, others
    claim their next item and write their last outcome, so the database work does not add to
    the calls' time.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # typed as Flask, is a proxy
    concurrency = app.config["CAP_BULK_CONCURRENCY"]
    gate = _CallGate(app_throttle(app), threading.BoundedSemaphore(concurrency), should_stop)
    finished = [0]
    lock = threading.Lock()

    def worker() -> None:
        with app.app_context():
            stored = db.session.get_one(DecisionRun, run_id)
            run = _RunOrder(run_id, stored.decision, stored.message, stored.locale, stored.created_by_id)
            try:
                while not should_stop():
                    if not _one(run, gate):
                        return
                    with lock:
                        finished[0] += 1
            finally:
                db.session.commit()  # the last outcome written (see _one)

    threads = 2 * concurrency  # a decision's database work takes about as long as its call
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"decisions-{run_id}") as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
    _close_if_done(run_id)
    return finished[0]


class _CallGate:
    """Held around each PUT: a slot of the job's concurrency, then a rate-limit permit.

    The permit is taken once the slot is held, right before the call, so calls start no faster
    than the shared limit allows; a stop while waiting raises :class:`decisions.CallCancelled`.
    """

    def __init__(self, throttle: Throttle, slots: threading.BoundedSemaphore, should_stop: Callable[[], bool]):
        self._throttle, self._slots, self._should_stop = throttle, slots, should_stop

    def __enter__(self) -> None:
        while not self._slots.acquire(timeout=0.5):
            if self._should_stop():
                raise decisions.CallCancelled
        if not self._throttle.acquire(self._should_stop):
            self._slots.release()
            raise decisions.CallCancelled

    def __exit__(self, *_exc: object) -> None:
        self._slots.release()


@dataclass(frozen=True)
class _RunOrder:
    """What every item of a run is decided with, read once per worker thread."""

    id: int
    decision: str
    message: str
    locale: str
    created_by_id: int | None


def _one(run: _RunOrder, gate: _CallGate) -> bool:
    """Claim the next pending item and decide it; False when none is left (or the job stops).

    The permit is taken inside :func:`decisions.decide`, after its claim (see :class:`_CallGate`),
    so a run that has nothing left takes no permit from bulk sending; an item a stop leaves
    claimed goes back to pending.
    """
    claimed = _claim_next(run.id)
    if claimed is None:
        return False
    item_id, tracked_pk = claimed
    record = db.session.get(TrackedRequest, tracked_pk)
    actor = db.session.get(User, run.created_by_id) if run.created_by_id else None
    assert record is not None  # the item's foreign key holds it
    with force_locale(run.locale):
        try:
            result = decisions.decide(record, run.decision, run.message, actor=actor, gate=gate)
            status, words = _STATUS_OF[result.status], result.message
        except decisions.CallCancelled:  # stopping: nothing was sent, the item waits for the next run
            db.session.execute(update(DecisionRunItem).where(DecisionRunItem.id == item_id)
                               .values(status=ITEM_PENDING))
            db.session.commit()
            return False
        except Exception:  # noqa: BLE001 - one request's failure must not stop the others
            log.exception("decision run %s: request %s", run.id, tracked_pk)
            db.session.rollback()
            status, words = ITEM_UNKNOWN, _("Something went wrong while deciding this request; check its page.")
    # Committed with this thread's next claim (or its end): the request's decision is already
    # stored, so the item's outcome is bookkeeping and need not cost a transaction of its own.
    db.session.execute(update(DecisionRunItem).where(DecisionRunItem.id == item_id)
                       .values(status=status, result=words, finished_at=utcnow()))
    return True


def _claim_next(run_id: int) -> tuple[int, int] | None:
    """Move the next pending item to ``sending`` (an UPDATE one claimer wins); return its id and request's.

    None when none is left. Commits, with the outcome this thread wrote last.
    """
    while True:
        candidate = db.session.execute(
            select(DecisionRunItem.id, DecisionRunItem.tracked_pk)
            .where(DecisionRunItem.run_id == run_id, DecisionRunItem.status == ITEM_PENDING)
            .order_by(DecisionRunItem.position).limit(1).with_for_update(skip_locked=True)
        ).first()
        if candidate is None:
            db.session.commit()  # the last outcome this thread wrote
            return None
        won = db.session.execute(
            update(DecisionRunItem).where(DecisionRunItem.id == candidate.id, DecisionRunItem.status == ITEM_PENDING)
            .values(status=ITEM_SENDING).execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]  # an UPDATE's CursorResult
        db.session.commit()
        if won:
            return candidate.id, candidate.tracked_pk


def _close_if_done(run_id: int) -> None:
    run = db.session.get(DecisionRun, run_id)
    if run is not None and run.state != RUN_DONE and progress(run).done:
        run.state, run.finished_at = RUN_DONE, utcnow()
        db.session.commit()
