"""Staff set a partner's return window on its page (an audited write) and see pending points."""

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from tests.pending.conftest import buy

pytestmark = pytest.mark.django_db


def _save(admin_client, partner, **fields):
    """The partner's page sent as staff fill it in."""
    return admin_client.post(
        reverse("admin:accounts_partner_change", args=[partner.pk]),
        {
            "name": partner.name,
            "is_active": "on",
            "max_purchase_amount": "10000.00",
            "max_points_per_purchase": "20000",
            "max_points_redeemed_per_day": "200000",
            **fields,
            **{
                f"api_keys-{name}_FORMS": "0" for name in ("TOTAL", "INITIAL", "MIN_NUM", "MAX_NUM")
            },
        },
    )


def test_staff_set_a_partners_return_window_and_it_is_audited(admin_client, partner):
    # given: the page shows the field
    page = admin_client.get(reverse("admin:accounts_partner_change", args=[partner.pk]))
    assert 'name="return_window_days"' in page.content.decode()
    # when
    response = _save(admin_client, partner, return_window_days="14")
    # then
    assert response.status_code == 302
    partner.refresh_from_db()
    assert partner.return_window_days == 14
    [record] = LogEntry.objects.filter(
        object_pk=str(partner.pk), content_type__model="partner", action=LogEntry.Action.UPDATE
    )
    assert record.changes_dict["return_window_days"] == ["0", "14"]


def test_a_return_window_over_a_year_is_refused_on_the_page(admin_client, partner):
    response = _save(admin_client, partner, return_window_days="400")
    assert response.status_code == 200
    assert "return_window_days" in response.context["adminform"].form.errors
    partner.refresh_from_db()
    assert partner.return_window_days == 0


def test_staff_see_pending_points_and_the_members_total(admin_client, shop, member, rules):
    # given
    buy(shop, member, "120")
    # when
    listed = admin_client.get(reverse("admin:loyalty_pendingpoints_changelist"))
    member_page = admin_client.get(reverse("admin:accounts_member_change", args=[member.pk]))
    # then
    assert listed.status_code == 200
    assert "P-1" in listed.content.decode()
    assert member_page.status_code == 200
    assert "points pending" in member_page.content.decode().lower()
