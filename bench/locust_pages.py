"""Locust users for bench/throughput.py: each fetches one page kind as fast as it can.

``BENCH_TARGET`` is ``status`` (a random record's status page among ``BENCH_MAX_ID``) or
``bare`` (``/_bench/bare?bytes=BENCH_BARE_BYTES``). Users sign in first when the app has sign-in.
"""

from __future__ import annotations

import os
import random
import re

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser
from locust_cookies import keep_secure_cookies  # bench/ is on the path: locust adds it

TARGET = os.environ.get("BENCH_TARGET", "status")
MAX_ID = int(os.environ.get("BENCH_MAX_ID", "1000"))
BARE_BYTES = int(os.environ.get("BENCH_BARE_BYTES", "10000"))
USERNAME = os.environ.get("BENCH_USERNAME", "")
PASSWORD = os.environ.get("BENCH_PASSWORD", "")


class PageUser(FastHttpUser):
    """Fetch the target page back to back."""

    wait_time = constant(0)

    def on_start(self):
        keep_secure_cookies(self.client.cookiejar)
        page = self.client.get("/login", name="sign-in")
        if page.status_code == 404 or not USERNAME:
            return
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        self.client.post("/login", name="sign-in", data={
            "username": USERNAME, "password": PASSWORD, "csrf_token": token.group(1) if token else ""})

    @task
    def fetch(self):
        if TARGET == "bare":
            self.client.get(f"/_bench/bare?bytes={BARE_BYTES}", name="bare")
        else:
            self.client.get(f"/requests/{random.randint(1, MAX_ID)}", name="status")
