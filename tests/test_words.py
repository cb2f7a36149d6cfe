"""Words a person reads (issue 17 item 9): no default status label, plural forms, codes only in
details, every time in the person's zone."""

from __future__ import annotations

import io
import re

from tests.lifecycle_helpers import submit


def _select(html: str, name: str) -> str:
    return re.search(rf'(?s)<select[^>]*name="{name}"[^>]*>.*?</select>', html).group(0)


def test_the_new_request_form_has_no_default_status_label(client, valid_form):
    label = _select(client.get("/requests/new").get_data(as_text=True), "label")
    chosen = [option for option in re.findall(r"<option[^>]*>", label) if "selected" in option]
    assert all('value=""' in option for option in chosen)  # at most the "Choose…" prompt
    assert re.search(r'<option[^>]*value=""[^>]*>Choose a status label…</option>', label)
    assert "required" in label.split(">", 1)[0]

    refused = client.post("/requests/new", data={**valid_form, "label": "", "action": "review"})
    assert refused.status_code == 422
    assert "Choose the new status label." in refused.get_data(as_text=True)
    accepted = client.post("/requests/new", data={**valid_form, "action": "review"})
    assert accepted.status_code == 200


def test_a_header_missing_one_column_says_so_in_the_singular(client):
    from services.bulk.csv_reader import COLUMNS

    header = ",".join(c for c in COLUMNS if c != "reason").encode()
    page = client.post("/bulk", data={"file": (io.BytesIO(header + b"\r\n"), "x.csv")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "The header is missing the column reason." in page
    assert "(s)" not in page


def test_the_trainers_call_log_is_in_the_persons_time_zone(client, valid_form):
    submit(client, valid_form)
    client.set_cookie("tz", "Asia/Kolkata")
    html = client.get("/sandbox").get_data(as_text=True)
    log = html[html.index("Recent gateway calls"):]
    assert "Time (UTC)" not in html
    cell = re.search(r"<tbody><tr><td>([^<]*)</td>", log).group(1)
    assert "+0530" in cell or "IST" in cell, cell


def test_an_unknown_customer_api_code_stays_out_of_the_sentence(app):
    from services.lifecycle.wording import outcome_of

    details = {"AdminTask-Payload": {"actionDecision": "approved", "actionMessage": "ok"},
               "IntouchAPITask_Output": {"status": 400, "headers": {},
                                         "body": {"errors": [{"code": 9999, "message": "Odd thing"}]}}}
    with app.test_request_context():
        outcome = outcome_of("failed", details)
    assert outcome.error_code == "9999" and outcome.http_status == 400
    assert "9999" not in outcome.words and "400" not in outcome.words and "Odd thing" not in outcome.words
    assert "details for Capillary's support" in outcome.words


def test_the_results_file_keeps_the_files_columns_and_says_states_in_the_readers_words(app, client):
    import csv

    from services.bulk.csv_reader import COLUMNS

    rows = [",".join(COLUMNS),
            "50682289,50682288,50682286,50678331,mobile,9780375690,Suspended,Fraude,,",
            "50682289,50682288,50682286,50678331,mobile,12,Suspended,x,,"]
    uploaded = client.post("/bulk", data={"file": (io.BytesIO("\r\n".join(rows).encode() + b"\r\n"), "f.csv")},
                           content_type="multipart/form-data")
    batch_url = uploaded.headers["Location"]
    client.set_cookie("lang", "es")
    text = client.get(f"{batch_url}/results.csv").get_data(as_text=True)
    table = list(csv.DictReader(io.StringIO(text)))
    assert list(table[0]) == ["line", *COLUMNS, "requestId", "state", "error", "downstreamRequestId"]
    assert [row["identifierValue"] for row in table] == ["9780375690", "12"]  # as in the file
    assert [row["state"] for row in table] == ["Aún no enviada", "No válida: no se envió"]
