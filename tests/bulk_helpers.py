"""Helpers for bulk tests: make a checked (and confirmed) batch of distinct customers."""

from __future__ import annotations

import io

from sqlalchemy import select

from extensions import db
from models.batches import Batch
from services.bulk import batches, runner
from services.bulk.csv_reader import COLUMNS

ENTITY = "50682289,50682288,50682286,50678331"


def csv_of(count: int, *, start: int = 1) -> bytes:
    """A valid file of ``count`` rows, one customer each (externalId EXT-<n>)."""
    lines = [",".join(COLUMNS)]
    lines += [f"{ENTITY},externalId,EXT-{n},Suspended,Bulk test row {n},," for n in range(start, start + count)]
    return ("\r\n".join(lines) + "\r\n").encode()


def make_batch(app, count: int, *, confirm: bool = True, created_by_name: str = "bulk tester") -> int:
    """Store (and confirm) a batch of ``count`` valid rows; return its id. Nothing is queued."""
    data = csv_of(count)
    with app.app_context():
        batch = batches.create_batch(io.BytesIO(data), "test.csv", size=len(data), uploader=None)
        batch.created_by_name = created_by_name  # an uploader's name without an account
        db.session.commit()
        if confirm:
            assert batches.confirm(batch, actor=None)
        return batch.id


def claim_next_row(batch_id: int) -> runner.Claimed | None:
    """Take the batch's next pending row (as a runner would, one at a time); None when none is left."""
    uploader_id, uploader_name = db.session.execute(
        select(Batch.created_by_id, Batch.created_by_name).where(Batch.id == batch_id)).one()
    claimed = runner.claim_rows(batch_id, 1, uploader_id, uploader_name)
    return claimed[0] if claimed else None


def created_identifiers(sandbox) -> list[str]:
    """The identifier value of every request the sandbox created, in creation order."""
    return [record["request"]["details"]["IntouchAPITask-Payload"]["queryParams"]["identifierValue"]
            for record in sorted(sandbox.records(), key=lambda r: r["seq"])]
