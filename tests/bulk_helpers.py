"""Helpers for bulk tests: make a checked (and confirmed) batch of distinct customers."""

from __future__ import annotations

import io

from services import bulk
from services.bulk_csv import COLUMNS

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
        batch = bulk.create_batch(io.BytesIO(data), "test.csv", size=len(data), created_by_name=created_by_name)
        if confirm:
            assert bulk.confirm(batch)
        return batch.id


def created_identifiers(sandbox) -> list[str]:
    """The identifier value of every request the sandbox created, in creation order."""
    return [record["request"]["details"]["IntouchAPITask-Payload"]["queryParams"]["identifierValue"]
            for record in sorted(sandbox.records(), key=lambda r: r["seq"])]
