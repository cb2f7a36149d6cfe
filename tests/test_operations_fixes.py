"""Small things an operator met while deploying, each fixed and kept fixed:

- a finished bulk file said "Time left: None";
- ``flask db upgrade`` printed "Not serving pages until the database is up to date" while it ran;
- ``flask worker`` with Redis down died with a raw traceback;
- a database migrated by newer code (a rollback, or old processes during a deploy) was refused;
- README's Layout named files that do not exist (``models.py``).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from sqlalchemy import text

import jobs
from extensions import db
from tests.bulk_helpers import make_batch
from tests.databases import database_url
from tests.helpers import make_app
from tests.test_serving import ROOT

REAL_MODE = {
    "CAP_GATEWAY_URL": "http://127.0.0.1:9", "CAP_ORG_ID": "100", "CAP_UI_AUTH_TOKEN": "fixes-maker-token",
    "CAP_INTOUCH_HOST": "https://intouch.example.invalid", "CAP_INTOUCH_USERNAME": "till.user",
    "CAP_INTOUCH_PASSWORD": "till-password", "SECRET_KEY": "f" * 40,
    "CAP_TOKEN_KEY": "UiTts56cKbRheuFgKONStJ1b8foA01RVD8zwV34rLec=",
}


def flask_command(settings: dict, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAP_", "FLASK_", "DATABASE_URL", "REDIS_"))}
    env.update(settings)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_a_finished_bulk_file_says_nothing_is_left_not_none(app, client):
    batch_id = make_batch(app, 2)
    with app.app_context():
        jobs.enqueue(jobs.tasks.BULK_RUN, batch_id=batch_id)
        app.extensions["jobs"].run_pending()
    progress = client.get(f"/bulk/{batch_id}/progress.json").get_json()
    assert progress["state"] == "done"
    assert progress["timeLeft"] == "Nothing left to send"
    page = client.get(f"/bulk/{batch_id}").get_data(as_text=True)
    assert '<dd data-field="timeLeft">Nothing left to send</dd>' in page


def test_flask_db_upgrade_does_not_say_pages_are_not_served(tmp_path):
    settings = {**REAL_MODE, "DATABASE_URL": database_url(tmp_path)}
    done = flask_command(settings, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    assert "Not serving pages" not in done.stdout + done.stderr
    assert "Running upgrade" in done.stderr  # it did upgrade (alembic's own line)


def test_a_server_starting_on_a_database_behind_still_says_so(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="schema"):
        make_app(tmp_path, SCHEMA_SETUP="check")  # as gunicorn builds it: no command line around it
    assert any("Not serving pages until the database is up to date" in r.getMessage() for r in caplog.records)


def test_a_worker_with_redis_down_explains_itself_without_a_traceback(tmp_path):
    settings = {**REAL_MODE, "DATABASE_URL": database_url(tmp_path), "REDIS_URL": "redis://:hunter2-redis@127.0.0.1:1/0"}
    assert flask_command(settings, "db", "upgrade").returncode == 0
    done = flask_command(settings, "worker", "--burst")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "Error: Redis at redis://:***@127.0.0.1:1/0 is not answering" in done.stderr
    assert "hunter2-redis" not in done.stderr


def test_a_database_migrated_by_newer_code_is_served(tmp_path):
    app = make_app(tmp_path, REAL_MODE, SCHEMA_SETUP="upgrade")
    with app.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = '9999'"))  # a revision from the future
        db.session.commit()
    older_code = make_app(tmp_path, REAL_MODE, SCHEMA_SETUP="check")
    client = older_code.test_client()
    assert client.get("/login").status_code == 200
    assert client.get("/readyz").get_json()["checks"]["database"] == "ok"


def test_a_database_behind_the_code_is_still_refused(tmp_path):
    app = make_app(tmp_path, REAL_MODE, SCHEMA_SETUP="upgrade")
    with app.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        db.session.commit()
    behind = make_app(tmp_path, REAL_MODE, SCHEMA_SETUP="check").test_client()
    assert behind.get("/login").status_code == 503


def test_readmes_layout_names_only_paths_that_exist():
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("```", 2)[1]
    named = [line.split()[0] for line in layout.splitlines() if line.strip() and not line.startswith(" ")]
    paths = [part.strip() for name in named for part in name.split(",") if part.strip()]
    assert "models/" in paths
    missing = [path for path in paths if not (ROOT / path.rstrip("/")).exists()]
    assert missing == [], f"README's Layout names {missing}, which do not exist"
