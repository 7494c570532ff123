"""The admin of webhook endpoints, events and the delivery log."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from tests import factories
from tests.webhooks import Receiver
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

SECRET = "admin-test-secret-ends-WXYZ"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def endpoint(partner, receiver):
    return services.endpoint_create(partner=partner, url=receiver.url(), secret=SECRET)


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _failed_delivery(endpoint, *, event_type="points.earned") -> WebhookDelivery:
    event = WebhookEvent.objects.create(
        type=event_type,
        partner=endpoint.partner,
        payload={"id": "x", "type": event_type, "data": {"points": 10, "name": "Ona"}},
        created_at=T0 - timedelta(days=2),
    )
    return WebhookDelivery.objects.create(
        event=event,
        endpoint=endpoint,
        status=WebhookDelivery.Status.FAILED,
        attempts=14,
        last_status_code=503,
        last_error="HTTP 503 Service Unavailable",
        next_attempt_at=T0 - timedelta(days=1),
        retry_until=T0 - timedelta(days=1),
        created_at=T0 - timedelta(days=2),
    )


# --- pages -------------------------------------------------------------------------------------


def test_pages_and_filters_return_200(admin_client, endpoint):
    # given
    delivery = _failed_delivery(endpoint)
    urls = [
        reverse("admin:webhooks_webhookendpoint_changelist"),
        reverse("admin:webhooks_webhookendpoint_add"),
        reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]),
        reverse("admin:webhooks_webhookevent_changelist"),
        reverse("admin:webhooks_webhookevent_change", args=[delivery.event_id]),
        reverse("admin:webhooks_webhookdelivery_changelist"),
        reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk]),
        reverse("admin:webhooks_webhookdelivery_changelist") + "?status=failed",
        reverse("admin:webhooks_webhookdelivery_changelist")
        + f"?endpoint__partner__id__exact={endpoint.partner_id}",
        reverse("admin:webhooks_webhookdelivery_changelist") + "?event__type=points.earned",
        reverse("admin:webhooks_webhookevent_changelist") + f"?q={delivery.event_id}",
        reverse("admin:webhooks_webhookevent_changelist") + "?q=not-an-id",
    ]

    # when
    statuses = [admin_client.get(url).status_code for url in urls]

    # then
    assert statuses == [200] * len(urls)


def test_delivery_filters_select_the_right_rows(admin_client, endpoint):
    # given
    failed = _failed_delivery(endpoint)
    other = _failed_delivery(endpoint, event_type="tier.changed")
    WebhookDelivery.objects.filter(pk=other.pk).update(status=WebhookDelivery.Status.DELIVERED)
    url = reverse("admin:webhooks_webhookdelivery_changelist")

    # when
    by_status = admin_client.get(url + "?status=failed")
    by_type = admin_client.get(url + "?event__type=tier.changed")

    # then
    assert [d.pk for d in by_status.context["cl"].result_list] == [failed.pk]
    assert [d.pk for d in by_type.context["cl"].result_list] == [other.pk]


def test_delivery_list_takes_the_same_queries_however_many_rows(admin_client, endpoint):
    # given
    url = reverse("admin:webhooks_webhookdelivery_changelist")
    _failed_delivery(endpoint)
    with CaptureQueriesContext(connection) as one:
        admin_client.get(url)
    for _ in range(5):
        _failed_delivery(endpoint, event_type="tier.changed")

    # when
    with CaptureQueriesContext(connection) as six:
        response = admin_client.get(url)

    # then
    assert len(response.context["cl"].result_list) == 6
    assert len(six) == len(one)


# --- endpoints ---------------------------------------------------------------------------------


def test_staff_add_an_endpoint_with_a_generated_secret_and_chosen_events(admin_client, partner):
    # given: the add form offers a fresh secret
    add_url = reverse("admin:webhooks_webhookendpoint_add")
    form = admin_client.get(add_url).context["adminform"].form
    offered = form.fields["new_secret"].initial
    assert len(offered) >= 40

    # when
    response = admin_client.post(
        add_url,
        {
            "partner": partner.pk,
            "url": "https://shop.example.com/loyalty/webhooks",
            "event_types": ["tier.changed", "points.earned"],
            "is_active": "on",
            "new_secret": offered,
        },
    )

    # then
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.partner == partner
    assert endpoint.url == "https://shop.example.com/loyalty/webhooks"
    assert endpoint.event_types == ["points.earned", "tier.changed"]
    assert endpoint.secret == offered
    assert endpoint.is_active


def test_an_endpoint_url_must_be_http_or_https(admin_client, partner):
    # when
    response = admin_client.post(
        reverse("admin:webhooks_webhookendpoint_add"),
        {"partner": partner.pk, "url": "ftp://shop.example.com/x", "new_secret": SECRET},
    )

    # then
    assert response.status_code == 200
    assert "url" in response.context["adminform"].form.errors
    assert WebhookEndpoint.objects.count() == 0


def test_the_secret_is_shown_only_by_its_last_four_characters(admin_client, endpoint):
    # when
    listing = admin_client.get(reverse("admin:webhooks_webhookendpoint_changelist"))
    change = admin_client.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]))

    # then
    for page in (listing, change):
        content = page.content.decode()
        assert SECRET not in content
        assert SECRET[:-4] not in content
        assert "…WXYZ" in content


def test_an_empty_secret_keeps_the_current_one_and_a_new_one_replaces_it(admin_client, endpoint):
    # given
    url = reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])
    data = {"url": endpoint.url, "event_types": ["voucher.used"], "is_active": "on"}

    # when
    kept = admin_client.post(url, {**data, "new_secret": ""})

    # then
    assert kept.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.event_types) == (SECRET, ["voucher.used"])

    # when
    replaced = admin_client.post(url, {**data, "new_secret": "a-brand-new-secret-1234"})

    # then
    assert replaced.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.secret == "a-brand-new-secret-1234"


def test_an_endpoint_cannot_move_to_another_partner_or_be_deleted(admin_client, endpoint):
    # given
    other = factories.make_partner("Other shop")
    url = reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])

    # when
    admin_client.post(
        url, {"partner": other.pk, "url": endpoint.url, "is_active": "on", "new_secret": ""}
    )
    delete = admin_client.post(
        reverse("admin:webhooks_webhookendpoint_delete", args=[endpoint.pk]), {"post": "yes"}
    )

    # then
    endpoint.refresh_from_db()
    assert endpoint.partner_id != other.pk
    assert delete.status_code == 403


# --- events ------------------------------------------------------------------------------------


def test_an_event_is_read_only_with_its_payload_pretty_printed(admin_client, endpoint):
    # given
    event = _failed_delivery(endpoint).event

    # when
    page = admin_client.get(reverse("admin:webhooks_webhookevent_change", args=[event.pk]))
    add = admin_client.get(reverse("admin:webhooks_webhookevent_add"))
    delete = admin_client.post(
        reverse("admin:webhooks_webhookevent_delete", args=[event.pk]), {"post": "yes"}
    )

    # then
    pretty = json.dumps(event.payload, indent=2, sort_keys=True)
    assert "<pre" in page.content.decode()
    assert pretty.replace('"', "&quot;") in page.content.decode()
    assert (add.status_code, delete.status_code) == (403, 403)
    assert WebhookEvent.objects.filter(pk=event.pk).exists()


def test_events_are_found_by_id(admin_client, endpoint):
    # given
    wanted = _failed_delivery(endpoint).event
    _failed_delivery(endpoint)
    url = reverse("admin:webhooks_webhookevent_changelist")

    # when
    found = admin_client.get(url, {"q": str(wanted.pk)})
    junk = admin_client.get(url, {"q": "points"})

    # then
    assert [e.pk for e in found.context["cl"].result_list] == [wanted.pk]
    assert list(junk.context["cl"].result_list) == []


# --- send again --------------------------------------------------------------------------------


def test_send_again_delivers_a_failed_delivery(
    admin_client, endpoint, receiver, time_machine, django_capture_on_commit_callbacks
):
    # given
    time_machine.move_to(T0, tick=False)
    failed = _failed_delivery(endpoint)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:webhooks_webhookdelivery_changelist"),
            {"action": "send_again", "_selected_action": [failed.pk]},
        )

    # then
    assert response.status_code == 302
    assert _messages(response) == [
        "1 delivery will be sent again, with a new 24-hour retry window."
    ]
    [request] = receiver.requests
    assert request.headers["Loyalty-Event-Id"] == str(failed.event_id)
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.last_status_code) == (
        WebhookDelivery.Status.DELIVERED,
        15,
        200,
    )
    assert failed.delivered_at == T0
    assert failed.retry_until == T0 + timedelta(hours=24)


def test_send_again_skips_inactive_endpoints(
    admin_client, endpoint, receiver, django_capture_on_commit_callbacks
):
    # given
    failed = _failed_delivery(endpoint)
    services.endpoint_update(endpoint=endpoint, is_active=False)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:webhooks_webhookdelivery_changelist"),
            {"action": "send_again", "_selected_action": [failed.pk]},
        )

    # then
    assert _messages(response) == ["1 delivery was skipped: its endpoint is not active."]
    assert receiver.requests == []
    failed.refresh_from_db()
    assert failed.status == WebhookDelivery.Status.FAILED


def test_staff_who_may_only_view_deliveries_cannot_send_again(client, endpoint, receiver):
    # given
    viewer = User.objects.create_user(email="viewer@example.com", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhookdelivery"))
    client.force_login(viewer)
    failed = _failed_delivery(endpoint)
    url = reverse("admin:webhooks_webhookdelivery_changelist")

    # when
    page = client.get(url)
    client.post(url, {"action": "send_again", "_selected_action": [failed.pk]})

    # then
    assert page.status_code == 200
    assert "send_again" not in page.content.decode()
    assert receiver.requests == []
    failed.refresh_from_db()
    assert failed.status == WebhookDelivery.Status.FAILED
