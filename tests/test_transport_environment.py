"""Outgoing calls use the proxy and CA-bundle variables of the environment, read once per session,
and never ~/.netrc (gateway/transport.environment_session), over real sockets."""

from __future__ import annotations

import pytest

from gateway import errors
from gateway.transport import Transport
from tests.live_server import serve_wsgi
from tests.wire_faults import dead_port

PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                   "no_proxy", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC")


@pytest.fixture
def clean_environment(monkeypatch, tmp_path):
    """No proxy, CA-bundle or netrc setting but what the test sets; HOME without a .netrc."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return monkeypatch


def _recording_server(seen: list):
    def app(environ, start_response):
        seen.append({"target": environ.get("REQUEST_URI"), "authorization": environ.get("HTTP_AUTHORIZATION")})
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"data": []}']
    return app


def test_calls_go_through_the_proxy_the_environment_names(clean_environment):
    seen: list = []
    with serve_wsgi(_recording_server(seen)) as proxy_url:
        clean_environment.setenv("HTTP_PROXY", proxy_url)
        answer = Transport("http://capillary.invalid").call("GET", "/v2/customers/lookup/customerDetails",
                                                            {"Authorization": "Basic dGlsbDpzZWNyZXQ="})
    assert answer.status == 200
    # A forward proxy is asked for the absolute URL, with the clients' own header passed on.
    assert seen == [{"target": "http://capillary.invalid/v2/customers/lookup/customerDetails",
                     "authorization": "Basic dGlsbDpzZWNyZXQ="}]


def test_a_host_in_no_proxy_is_called_directly(clean_environment):
    seen: list = []
    clean_environment.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead_port()}")
    clean_environment.setenv("NO_PROXY", "127.0.0.1")
    with serve_wsgi(_recording_server(seen)) as base_url:
        assert Transport(base_url).call("GET", "/v2/x", {}).status == 200
    assert [call["target"] for call in seen] == ["/v2/x"]


def test_a_proxy_that_cannot_be_reached_is_reported_as_unreachable(clean_environment):
    clean_environment.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead_port()}")
    with pytest.raises(errors.GatewayUnreachable):
        Transport("http://capillary.invalid", timeout=(2.0, 2.0)).call("GET", "/v2/x", {})


def test_a_netrc_entry_never_replaces_the_authorization_the_client_sets(clean_environment, tmp_path):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password else\n")
    netrc.chmod(0o600)
    clean_environment.setenv("NETRC", str(netrc))
    seen: list = []
    with serve_wsgi(_recording_server(seen)) as base_url:
        Transport(base_url).call("GET", "/v2/x", {"Authorization": "Basic dGlsbDpzZWNyZXQ="})
        Transport(base_url).call("GET", "/v2/x", {})
    assert [call["authorization"] for call in seen] == ["Basic dGlsbDpzZWNyZXQ=", None]


def test_the_ca_bundle_variable_is_the_sessions_trust_store(clean_environment, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    clean_environment.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert Transport("https://eu.api.capillarytech.com").session().verify == str(bundle)
    clean_environment.delenv("REQUESTS_CA_BUNDLE")
    assert Transport("https://eu.api.capillarytech.com").session().verify is True
