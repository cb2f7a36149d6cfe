"""Prometheus metrics (prometheus-client): what the app counts, and what ``/metrics`` answers.

Counted where it happens, in whichever process it happens:

- HTTP requests by endpoint, method and status, with latency (every app process);
- gateway calls by endpoint and outcome, with latency (web processes and job workers alike:
  the gateway client reports every call, see :func:`init_app`);
- submissions from the request form by the state they ended in, bulk rows by outcome;
- customer look-ups by outcome (:func:`record_customer_lookup`: no page looks customers up
  yet; the metric exists so dashboards and alerts need no change when one does).

Read when scraped (:class:`DeploymentCollector`), so every instance reports the same
deployment-wide figures: records in ``sending``/``unknown``, bulk files queued/sending, the job
queue's depth and oldest job, live workers, and the status sync's runs, failures and last
success (written to the database by whoever ran it).

Several processes: gunicorn.conf.py points ``PROMETHEUS_MULTIPROC_DIR`` at a folder where each
process keeps its counts (prometheus-client's multiprocess mode), and ``/metrics`` adds them
up. A ``flask worker`` started with the same folder in its environment (the shipped systemd
units do this) is added in too. Without the variable (``flask run``, tests) the process's
own registry is used.
"""

from __future__ import annotations

import os
import time

from flask import Flask, g, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

HTTP_REQUESTS = Counter("capreq_http_requests", "HTTP requests answered, by endpoint, method and status.",
                        ["endpoint", "method", "status"])
HTTP_LATENCY = Histogram("capreq_http_request_duration_seconds", "Time to answer an HTTP request, by endpoint.",
                         ["endpoint"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
GATEWAY_CALLS = Counter("capreq_gateway_calls", "Calls to Capillary's gateway, by endpoint and outcome "
                        "(ok, or the failure: timeout, unreachable, rejected, server_error, ...).",
                        ["endpoint", "outcome"])
GATEWAY_LATENCY = Histogram("capreq_gateway_call_duration_seconds", "Time a gateway call took, by endpoint.",
                            ["endpoint"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30))
SUBMISSIONS = Counter("capreq_submissions", "Requests submitted from the form, by the state the submission "
                      "ended in (AdminTask: created; unknown: outcome lost; failed_to_submit: not created).",
                      ["state"])
BULK_ROWS = Counter("capreq_bulk_rows", "Bulk file rows sent, by outcome (created, failed, unknown).", ["outcome"])
CUSTOMER_LOOKUPS = Counter("capreq_customer_lookups", "Customer look-ups in Capillary, by outcome "
                           "(found, not_found, or the failure).", ["outcome"])

# Bulk row outcomes by the state its request ended in.
_ROW_OUTCOMES = {"failed_to_submit": "failed", "unknown": "unknown"}


def init_app(app: Flask) -> None:
    """Count every request of ``app`` and every call of its gateway client."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:  # e.g. a `flask worker` started before gunicorn made it
        os.makedirs(folder, exist_ok=True)
    # First of the before-request hooks: one that answers early skips those after it.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.after_request(_count_request)
    app.extensions["gateway_client"].add_observer(record_gateway_call)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _count_request(response):
    endpoint = request.endpoint or "unmatched"  # unmatched URLs share one label: no unbounded series
    HTTP_REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    started = g.get("metrics_started")
    if started is not None:
        HTTP_LATENCY.labels(endpoint).observe(time.perf_counter() - started)
    return response


def record_gateway_call(endpoint: str, outcome: str, seconds: float) -> None:
    """Count one gateway call (the gateway client's observer)."""
    GATEWAY_CALLS.labels(endpoint, outcome).inc()
    GATEWAY_LATENCY.labels(endpoint).observe(seconds)


def record_submission(state: str) -> None:
    """Count one submission from the form by the state it ended in."""
    SUBMISSIONS.labels(state).inc()


def record_bulk_row(state: str) -> None:
    """Count one bulk row sent, by the state its request ended in."""
    BULK_ROWS.labels(_ROW_OUTCOMES.get(state, "created")).inc()


def record_customer_lookup(outcome: str) -> None:
    """Count one customer look-up: ``found``, ``not_found``, or a gateway failure's kind."""
    CUSTOMER_LOOKUPS.labels(outcome).inc()


def exposition(app: Flask) -> bytes:
    """The metrics in Prometheus's text format (call inside an app context)."""
    deployment = CollectorRegistry(auto_describe=False)
    deployment.register(DeploymentCollector(app))
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return generate_latest(REGISTRY) + generate_latest(deployment)
    from prometheus_client.multiprocess import MultiProcessCollector

    counted = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(counted, path=folder)
    return generate_latest(counted) + generate_latest(deployment)


class DeploymentCollector:
    """Figures read from the database and the job system at scrape time."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        """Yield the metric families (prometheus-client calls this on every scrape)."""
        yield from self._records()
        yield from self._jobs()

    def _records(self):
        from sqlalchemy import func, select

        from extensions import db
        from models import SENDING, UNKNOWN, Batch, TrackedRequest
        from models.batches import QUEUED, RUNNING

        up = GaugeMetricFamily("capreq_database_up", "1 when the database answered this scrape, else 0.")
        try:
            by_state: dict[str, int] = dict(db.session.execute(
                select(TrackedRequest.state, func.count()).where(TrackedRequest.state.in_((SENDING, UNKNOWN)))
                .group_by(TrackedRequest.state)).tuples().all())
            files: dict[str, int] = dict(db.session.execute(
                select(Batch.state, func.count()).where(Batch.state.in_((QUEUED, RUNNING)))
                .group_by(Batch.state)).tuples().all())
        except Exception:  # noqa: BLE001 - a scrape reports the failure as a value
            db.session.rollback()
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        records = GaugeMetricFamily("capreq_requests_in_state", "Requests whose outcome is not known yet: "
                                    "sending (stored, call under way or cut off) or unknown (answer lost).",
                                    labels=["state"])
        for state in (SENDING, UNKNOWN):
            records.add_metric([state], by_state.get(state, 0))
        yield records
        batches = GaugeMetricFamily("capreq_bulk_files", "Bulk files confirmed and waiting (queued) or being "
                                    "sent (running).", labels=["state"])
        for state in (QUEUED, RUNNING):
            batches.add_metric([state], files.get(state, 0))
        yield batches

    def _jobs(self):
        from jobs.status import epoch_seconds, job_system

        found = job_system(self.app)
        backend = [found.backend]
        workers = GaugeMetricFamily("capreq_job_workers", "Live job workers: RQ workers with a fresh heartbeat "
                                    "(rq), or this process's job threads (embedded).", labels=["backend"])
        workers.add_metric(backend, found.workers)
        yield workers
        queued = GaugeMetricFamily("capreq_jobs_queued", "Jobs waiting in the queue.", labels=["backend"])
        queued.add_metric(backend, found.queued)
        yield queued
        oldest = GaugeMetricFamily("capreq_jobs_oldest_queued_seconds", "How long the oldest queued job has "
                                   "waited (0 when none; rq only).", labels=["backend"])
        oldest.add_metric(backend, found.oldest_queued_seconds or 0)
        yield oldest
        runs = CounterMetricFamily("capreq_sync_runs", "Status sync runs, by every process and host.")
        runs.add_metric([], found.sync_runs)
        yield runs
        failures = CounterMetricFamily("capreq_sync_failures", "Status sync runs in which every gateway call "
                                       "failed, or that stopped with an error.")
        failures.add_metric([], found.sync_failures)
        yield failures
        last = GaugeMetricFamily("capreq_sync_last_success_timestamp_seconds", "When a status sync last "
                                 "succeeded (Unix time; 0: never).")
        last.add_metric([], epoch_seconds(found.last_sync) or 0.0)
        yield last
        problems = GaugeMetricFamily("capreq_jobs_problems", "Problems /readyz/jobs reports (0: healthy).")
        problems.add_metric([], len(found.problems))
        yield problems
