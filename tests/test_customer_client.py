"""The customer client (gateway/customers.py) over a real socket against a scripted server.

The server answers what each test scripts: the documented shapes, the v2 error envelope on any
HTTP status, and the bad answers the issue lists (timeout, 5xx, 401, 8015, 8013, a 200 without
``id``, an empty status log, no active entry, names with markup or right-to-left text, several
profiles).
"""

from __future__ import annotations

import json
import time

import pytest
from flask import Flask, Response, request

from gateway import customers as c
from gateway.payload import intouch_basic_authorization
from tests.helpers import ANSWERED_READ_TIMEOUT, UNANSWERED_READ_TIMEOUT
from tests.live_server import serve_wsgi

TILL_AUTH = intouch_basic_authorization("till.user", "123")

ASHA = {
    "id": 564590100,
    "profiles": [
        {"firstName": "Asha", "lastName": "Rao", "source": "INSTORE",
         "attribution": {"createDate": "2019-09-23T15:13:14+05:30",
                         "createdBy": {"id": 1, "code": "till.001", "name": "Indiranagar till", "type": "TILL"}},
         "identifiers": [{"type": "mobile", "value": "919780375690"}]},
    ],
    "loyaltyInfo": {"loyaltyType": "loyalty"},
    "loyaltyProgramDetails": [{"currentSlab": "Gold", "slabSNo": 2}],
    "warnings": [],
}
LOG = {"data": [
    {"label": "Active", "status": "ACTIVE", "reason": "joined", "createdOn": "2021-09-16T17:54:24+05:30",
     "createdByUser": "a", "isActive": False},
    {"label": "Fraud suspected", "status": "FRAUD_SUSPECTED", "reason": "chargebacks",
     "createdOn": "2021-09-16T18:15:12+05:30", "createdByUser": "b", "isActive": True},
], "warnings": [], "errors": []}


def envelope(code, message="x"):
    return {"warnings": [], "errors": [{"status": False, "code": code, "message": message}]}


@pytest.fixture
def server():
    """A scripted customer API: ``script["lookup"]`` / ``script["log"]`` are (status, body) or "stall"."""
    script: dict = {"lookup": (200, ASHA), "log": (200, LOG)}
    seen: list = []
    app = Flask(__name__)

    def answer(what):
        step = script[what]
        if step == "stall":
            time.sleep(3)
            return Response("{}", 200)
        status, body = step
        raw = body if isinstance(body, bytes | str) else json.dumps(body)
        return Response(raw, status, mimetype="application/json")

    @app.get("/v2/customers/lookup/customerDetails")
    def lookup():
        seen.append(("lookup", dict(request.args), request.headers.get("Authorization"),
                     request.headers.get("Accept")))
        return answer("lookup")

    @app.get("/v2/customers/<cid>/statusLog")
    def log(cid):
        seen.append(("log", cid, request.headers.get("Authorization"), request.headers.get("Accept")))
        return answer("log")

    with serve_wsgi(app) as base_url:
        yield base_url, script, seen


def client(base_url, read=ANSWERED_READ_TIMEOUT, cache=None):
    return c.CustomerClient(base_url, lambda: TILL_AUTH, timeout=(2.0, read), cache=cache)


def test_find_reads_the_documented_fields_and_sends_the_till_credentials(server):
    base_url, _, seen = server
    found = client(base_url).find("INSTORE", "mobile", "919780375690", "acc-1")
    assert found.id == "564590100" and found.name == "Asha Rao"
    assert found.member_since.startswith("2019-09-23") and found.registered_at == "Indiranagar till"
    assert found.loyalty_type == "loyalty" and found.tier == "Gold"
    assert found.current.label == "Fraud suspected" and found.current.is_active
    assert [e.label for e in found.history] == ["Fraud suspected", "Active"]  # newest first
    (_, args, auth, accept), (_, cid, auth2, _) = seen
    assert args == {"source": "INSTORE", "identifierName": "mobile", "identifierValue": "919780375690",
                    "accountId": "acc-1", "embed": "mlp"}
    assert auth == auth2 == TILL_AUTH and accept == "application/json" and cid == "564590100"


@pytest.mark.parametrize("status", [200, 400, 404, 500])
def test_8015_in_the_body_is_not_found_whatever_the_http_status(server, status):
    base_url, script, _ = server
    script["lookup"] = (status, envelope(8015, "Customer not found for the given identifiers"))
    with pytest.raises(c.CustomerNotFound) as caught:
        client(base_url).find("INSTORE", "mobile", "919000000000")
    assert caught.value.definite and caught.value.code == "8015"


@pytest.mark.parametrize(("code", "kind", "definite"), [
    (8013, c.InvalidIdentifier, True), (8003, c.InvalidSource, False), (9999, c.LookupFailed, False)])
def test_documented_codes_become_their_kinds(server, code, kind, definite):
    base_url, script, _ = server
    script["lookup"] = (400, envelope(code))
    with pytest.raises(kind) as caught:
        client(base_url).find("INSTORE", "mobile", "919000000000")
    assert caught.value.definite is definite


@pytest.mark.parametrize(("status", "body", "kind"), [
    (401, envelope(401, "Unauthorized"), c.CredentialsRefused),
    (403, {}, c.CredentialsRefused),
    (500, envelope(500, "boom"), c.LookupFailed),
    (502, "<html>bad gateway</html>", c.LookupFailed),
    (200, "not json", c.LookupUnreadable),
    (200, {"profiles": [{"firstName": "No id"}]}, c.LookupUnreadable),  # a 200 without id
])
def test_failures_are_typed_and_never_definite(server, status, body, kind):
    base_url, script, _ = server
    script["lookup"] = (status, body)
    with pytest.raises(kind) as caught:
        client(base_url).find("INSTORE", "mobile", "919780375690")
    assert not caught.value.definite


def test_a_look_up_that_never_answers_is_a_timeout(server):
    base_url, script, _ = server
    script["lookup"] = "stall"
    with pytest.raises(c.LookupTimeout):
        client(base_url, read=UNANSWERED_READ_TIMEOUT).find("INSTORE", "mobile", "919780375690")


def test_after_a_timeout_pages_do_not_each_wait_for_the_deadline_again(server):
    base_url, script, seen = server
    script["lookup"] = "stall"
    slow = client(base_url, read=UNANSWERED_READ_TIMEOUT)
    with pytest.raises(c.LookupTimeout):
        slow.find("INSTORE", "mobile", "919780375690")
    assert len(seen) == 1
    with pytest.raises(c.LookupTimeout):  # another customer, answered at once without a call
        slow.find("INSTORE", "mobile", "919000000000")
    assert len(seen) == 1
    script["lookup"] = (200, ASHA)
    assert slow.find("INSTORE", "mobile", "919000000000", fresh=True).name == "Asha Rao"  # a person asked
    assert len(seen) == 3  # the look-up and its status log


def test_an_unreachable_host_is_unreachable():
    with pytest.raises(c.LookupUnreachable):
        client("http://127.0.0.1:9").find("INSTORE", "mobile", "919780375690")


def test_a_failed_status_log_keeps_the_customer_and_names_the_problem(server):
    base_url, script, _ = server
    script["log"] = "stall"
    found = client(base_url, read=UNANSWERED_READ_TIMEOUT).find("INSTORE", "mobile", "919780375690")
    assert found.name == "Asha Rao" and found.current is None and found.status_problem == "timeout"


def test_an_empty_status_log_has_no_current_status(server):
    base_url, script, _ = server
    script["log"] = (200, {"data": [], "warnings": [], "errors": []})
    found = client(base_url).find("INSTORE", "mobile", "919780375690")
    assert found.current is None and found.history == () and found.status_problem is None


def test_without_an_active_entry_the_newest_by_created_on_is_current(server):
    base_url, script, _ = server
    script["log"] = (200, {"data": [
        {"label": "Suspended", "status": "SUSPENDED", "createdOn": "2025-01-30T09:17:06Z"},
        {"label": "Active", "status": "ACTIVE", "createdOn": "2025-01-30T14:00:00+05:30"},  # 08:30Z: older
    ]})
    found = client(base_url).find("INSTORE", "mobile", "919780375690")
    assert found.current.label == "Suspended"


def test_the_profile_of_the_source_gives_the_name_and_markup_stays_text(server):
    base_url, script, _ = server
    script["lookup"] = (200, {**ASHA, "profiles": [
        {"firstName": "<b>Web</b>", "lastName": "Only", "source": "WEBSITE"},
        {"firstName": "\u0622\u0634\u0627", "lastName": "<script>x</script>", "source": "INSTORE"},
    ]})
    found = client(base_url).find("INSTORE", "mobile", "919780375690")
    assert found.name == "\u0622\u0634\u0627 <script>x</script>" and found.profiles == 2
    other = client(base_url).find("MARTJACK", "mobile", "919780375690")  # no such profile: the first
    assert other.first_name == "<b>Web</b>"


def test_the_cache_answers_the_second_find_and_remembers_not_found(server):
    base_url, script, seen = server
    cached = client(base_url, cache=c.CustomerCache(30))
    assert cached.find("INSTORE", "mobile", "919780375690") == cached.find("INSTORE", "mobile", "919780375690")
    assert len(seen) == 2  # one look-up, one status log
    cached.find("INSTORE", "mobile", "919780375690", fresh=True)
    assert len(seen) == 4
    script["lookup"] = (400, envelope(8015))
    for _ in range(2):
        with pytest.raises(c.CustomerNotFound):
            cached.find("INSTORE", "mobile", "919000000000")
    assert len(seen) == 5


def test_transient_failures_are_not_cached(server):
    base_url, script, seen = server
    cached = client(base_url, cache=c.CustomerCache(30))
    script["lookup"] = (500, envelope(500))
    with pytest.raises(c.LookupFailed):
        cached.find("INSTORE", "mobile", "919780375690")
    script["lookup"] = (200, ASHA)
    assert cached.find("INSTORE", "mobile", "919780375690").name == "Asha Rao"


def test_the_cache_never_lives_past_sixty_seconds_and_zero_turns_it_off():
    assert c.CustomerCache(600).seconds == 60
    off = c.CustomerCache(0)
    off.put("k", c.Customer(id="1"))
    assert off.get("k") is None


def test_a_full_cache_lets_only_its_oldest_entry_go(monkeypatch):
    monkeypatch.setattr(c.CustomerCache, "MAX_ENTRIES", 3)
    cache = c.CustomerCache(30)
    for n in range(4):
        cache.put(f"INSTORE|mobile|{n}|", c.Customer(id=str(n)))
    assert cache.get("INSTORE|mobile|0|") is None
    assert [cache.get(f"INSTORE|mobile|{n}|").id for n in (1, 2, 3)] == ["1", "2", "3"]
    cache.put("INSTORE|mobile|1|", c.Customer(id="1b"))  # put again: now the newest
    cache.put("INSTORE|mobile|4|", c.Customer(id="4"))
    assert cache.get("INSTORE|mobile|2|") is None and cache.get("INSTORE|mobile|1|").id == "1b"


def test_the_cache_is_shared_through_redis(redis_settings):
    from redis import Redis

    redis = Redis.from_url(redis_settings["REDIS_URL"])
    one = c.CustomerCache(30, redis, redis_settings["REDIS_KEY_PREFIX"])
    two = c.CustomerCache(30, redis, redis_settings["REDIS_KEY_PREFIX"])
    one.put("INSTORE|mobile|1|", c.Customer(id="7", first_name="Asha", current=c.StatusEntry("Active")))
    one.put("INSTORE|mobile|2|", c.CustomerNotFound("gone", code="8015"))
    assert two.get("INSTORE|mobile|1|").current.label == "Active"
    assert isinstance(two.get("INSTORE|mobile|2|"), c.CustomerNotFound)
    assert 0 < redis.pttl(redis_settings["REDIS_KEY_PREFIX"] + ":customer:INSTORE|mobile|1|") <= 30_000
