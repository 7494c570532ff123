"""A proxy named in the environment (HTTP_PROXY, NO_PROXY) carries the webhooks it should; the
environment is read once per origin (webhooks.delivery.proxy_for)."""

import pytest

from webhooks.delivery import http_post, proxy_for


@pytest.fixture
def environment(monkeypatch):
    """The test's proxy settings alone (none of the machine's; urllib prefers the lower-case
    names), read afresh before and after it."""
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    proxy_for.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    proxy_for.cache_clear()


def test_a_proxy_named_in_the_environment_carries_the_events(receiver, environment):
    # given: the receiver stands in as the proxy; one host is exempt
    proxy = receiver.url("")
    environment.setenv("HTTP_PROXY", proxy)
    environment.setenv("NO_PROXY", "direct.example")
    # when
    result = http_post("http://partner.example/hook", b"{}", {"Content-Type": "application/json"})
    # then: the request went to the proxy, for the partner's URL
    assert result.ok, result.error
    assert receiver.requests[-1].path == "http://partner.example/hook"
    assert proxy_for("http", "partner.example") == proxy
    assert proxy_for("http", "direct.example") is None
    assert proxy_for("https", "partner.example") is None  # none named for https


def test_without_a_proxy_the_events_go_straight_to_the_partner(receiver, environment):
    assert http_post(receiver.url(), b"{}", {"Content-Type": "application/json"}).ok
    assert receiver.requests[-1].path == "/hook"
