"""Locust users for the load soak (bench/soak.py): people submitting, browsing and approving.

- ``Submitter`` (signed in as the bench agent): fills the form, checks it, submits it (review
  POST, create POST, status page), looks at history and status pages.
- ``Checker`` (signed in as the bench checker): opens the checker console, picks a waiting
  request, reviews it, confirms an approval or a rejection. Two checkers picking the same
  request is normal: the second is told it was already decided (409), which is counted as
  ``lost race`` rather than an error.

Every other non-2xx/3xx answer is a failure. Environment: BENCH_MAKER_USER/PASSWORD,
BENCH_CHECKER_USER/PASSWORD.
"""

from __future__ import annotations

import os
import random
import re
import uuid

from _common import form_inputs  # bench/ is on the path: locust adds it
from locust import between, task
from locust.contrib.fasthttp import FastHttpUser
from locust_cookies import keep_secure_cookies

FORM = {
    "tillId": "50682289", "storeId": "50682288", "zoneId": "50682286", "conceptId": "50678331",
    "identifierName": "mobile", "label": "Suspended", "source": "INSTORE", "accountId": "",
}
MOBILES = ["919780375690", "919780375691", "919812345670", "919812345671", "919812345673", "919812345674"]
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _token(html: str) -> str:
    found = TOKEN.search(html)
    return found.group(1) if found else ""


class Person(FastHttpUser):
    abstract = True
    username_env = ""

    def on_start(self):
        keep_secure_cookies(self.client.cookiejar)
        page = self.client.get("/login", name="/login")
        with self.client.post("/login", name="/login", allow_redirects=False, catch_response=True, data={
            "username": os.environ[f"{self.username_env}_USER"],
            "password": os.environ[f"{self.username_env}_PASSWORD"],
            "csrf_token": _token(page.text),
        }) as response:
            if response.status_code != 303:
                response.failure(f"sign-in answered {response.status_code}")


def _ticks(page: str) -> set[str]:
    """The confirmations a review page asks for (no-op, duplicate: issue 14)."""
    return set(re.findall(r'name="(confirm_(?:noop|duplicate))"', page))


def _ticked(page: str) -> dict[str, str]:
    """The review page's hidden form with its confirmations ticked, as a person would before Submit.

    A few customers, many submissions: the page often says another request is open for the customer.
    """
    return {**form_inputs(page, "/requests"), **dict.fromkeys(_ticks(page), "y")}


class Submitter(Person):
    weight = 4
    wait_time = between(0.5, 2)
    username_env = "BENCH_MAKER"

    def on_start(self):
        super().on_start()
        self.csrf = _token(self.client.get("/requests/new", name="/requests/new").text)
        self.mine: list[str] = []

    @task(3)
    def submit(self):
        form = {**FORM, "identifierValue": random.choice(MOBILES), "csrf_token": self.csrf,
                "reason": f"Soak test {uuid.uuid4().hex[:8]}: suspected fraud", "submission_key": uuid.uuid4().hex}
        with self.client.post("/requests/new", data=form, name="review (POST /requests/new)",
                              catch_response=True) as review:
            if review.status_code != 200 or "Submit request" not in review.text:
                review.failure(f"review answered {review.status_code}")
                return
        page = review.text
        for attempt in (1, 2):
            hidden = _ticked(page)
            with self.client.post("/requests", data=hidden, name="submit (POST /requests)", allow_redirects=False,
                                  catch_response=True) as created:
                # Another person's request for the same customer may have arrived since the review
                # page was drawn: the page comes back (422) asking for the tick, once.
                if created.status_code == 422 and attempt == 1 and _ticks(created.text) - hidden.keys():
                    created.success()
                    page = created.text
                    continue
                if created.status_code != 303:
                    created.failure(f"submit answered {created.status_code}")
                    return
                break
        location = created.headers["Location"]
        self.mine.append(location.replace("http://", "").split("/", 1)[-1] if location.startswith("http")
                         else location.lstrip("/"))
        with self.client.get("/" + self.mine[-1], name="status page", catch_response=True) as status:
            if "Not submitted" in status.text or "Outcome unknown" in status.text:
                status.failure("the submission did not reach Capillary cleanly")

    @task(2)
    def browse(self):
        self.client.get("/requests", name="history")
        if self.mine:
            self.client.get("/" + random.choice(self.mine), name="status page")
            self.client.get("/" + random.choice(self.mine) + "/live", name="status fragment")

    @task(1)
    def filter_history(self):
        self.client.get("/requests?state=AdminTask&store=50682288", name="history (filtered)")


class Checker(Person):
    weight = 1
    wait_time = between(0.5, 2)
    username_env = "BENCH_CHECKER"

    @task
    def approve_one(self):
        console = self.client.get("/approvals", name="checker console")
        waiting = sorted(set(re.findall(r'href="/approvals/(\d+)', console.text)))
        if not waiting:
            return
        pk = random.choice(waiting)
        page = self.client.get(f"/approvals/{pk}", name="decision page")
        decision = random.choice(["approved", "approved", "rejected"])
        form = {"decision": decision, "message": "Checked by the soak test", "csrf_token": _token(page.text)}
        with self.client.post(f"/approvals/{pk}", data={**form, "step": "review"}, name="decide (review)",
                              catch_response=True) as review:
            if review.status_code == 409:
                review.success()  # decided by another checker meanwhile: the app said so
                return
            if review.status_code != 200:
                review.failure(f"decision review answered {review.status_code}")
                return
        with self.client.post(f"/approvals/{pk}", data={**form, "step": "confirm"}, name="decide (confirm)",
                              allow_redirects=False, catch_response=True) as confirm:
            if confirm.status_code == 409:
                confirm.success()  # lost the race to another checker; nothing sent twice
            elif confirm.status_code != 303:
                confirm.failure(f"confirm answered {confirm.status_code}")
