"""The staff dashboard: who may see it, the liability against the open lots, every panel's CSV
equal to its table, and the member's profile on their admin page."""

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Sum
from django.urls import reverse

from insights import services
from insights.figures import snapshot_compute
from insights.ladder import ladder_compute
from insights.models import InsightsPolicy, Snapshot
from loyalty.core.models import PointLot
from tests.factories import give_points, make_member

from .helpers import buy

pytestmark = pytest.mark.django_db

DAY = date.today()


@pytest.fixture
def chief(db):
    return get_user_model().objects.create_superuser(email="chief@example.com", password="x")


@pytest.fixture
def program(tiers, partner, base_rule, chief):
    members = [make_member(email=f"m{k}@example.com") for k in range(6)]
    for k, member in enumerate(members[:4]):
        for days in range(0, 60 * (k + 1), 30):
            buy(member, partner, DAY - timedelta(days=days), amount=str(10 + k))
    give_points(members[5], 75)  # points that never expire
    services.policy_update(staff=chief, point_value=Decimal("0.02"))
    ladder_compute(day=DAY)
    return snapshot_compute(day=DAY)


def test_liability_is_the_open_lots_times_the_point_value(program):
    outstanding = PointLot.objects.filter(remaining__gt=0).aggregate(s=Sum("remaining"))["s"]
    owed = program.figures["liability"]
    assert owed["points"] == outstanding > 0
    assert Decimal(owed["value"]) == (outstanding * Decimal("0.02")).quantize(Decimal("0.01"))
    assert sum(row["points"] for row in owed["by_month"]) == outstanding
    assert owed["by_month"][-1]["month"] == ""  # never-expiring points come last
    assert InsightsPolicy.objects.get(pk=1).point_value == Decimal("0.02")


def _table(html: str, key: str) -> list[list[str]]:
    section = html.split(f'id="panel-{key}"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", section, re.S)
    return [
        [
            unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in rows
    ]


def test_every_csv_equals_its_table(program, client, chief):
    client.force_login(chief)
    page = client.get(reverse("admin:insights_dashboard"))
    assert page.status_code == 200
    html = page.content.decode()
    keys = re.findall(r'id="panel-([a-z]+)"', html)
    assert keys == [
        "rungs",
        "tiers",
        "flow",
        "points",
        "liability",
        "customers",
        "campaigns",
        "feedback",
    ]
    for key in keys:
        response = client.get(reverse("admin:insights_dashboard_csv", kwargs={"key": key}))
        assert response.status_code == 200
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        table = _table(html, key)
        if len(table) == 2 and "Nothing yet." in table[1]:
            table = table[:1]
        assert rows == table, key
    assert client.get("/admin/insights/memberinsight/dashboard/nothing.csv").status_code == 404


def test_staff_need_the_permission(program, client):
    staff = get_user_model().objects.create_user(email="s@example.com", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("admin:insights_dashboard")).status_code == 403
    assert (
        client.get(reverse("admin:insights_dashboard_csv", kwargs={"key": "rungs"})).status_code
        == 403
    )
    index = client.get(reverse("admin:index"))
    assert reverse("admin:insights_dashboard") not in index.content.decode()
    staff.user_permissions.add(Permission.objects.get(codename="view_snapshot"))
    staff = get_user_model().objects.get(pk=staff.pk)
    client.force_login(staff)
    assert client.get(reverse("admin:insights_dashboard")).status_code == 200
    assert (
        reverse("admin:insights_dashboard") in client.get(reverse("admin:index")).content.decode()
    )


def test_the_dashboard_reads_one_snapshot(program, client, chief, django_assert_max_num_queries):
    client.force_login(chief)
    client.get(reverse("admin:insights_dashboard"))
    with django_assert_max_num_queries(8):
        assert client.get(reverse("admin:insights_dashboard")).status_code == 200


def test_without_a_snapshot_the_page_says_how_to_get_one(db, client, chief):
    Snapshot.objects.all().delete()
    client.force_login(chief)
    assert "run_job insights" in client.get(reverse("admin:insights_dashboard")).content.decode()


def test_the_member_page_shows_their_profile(program, client, chief):
    from accounts.models import Member

    member = Member.objects.order_by("pk")[3]
    client.force_login(chief)
    page = client.get(reverse("admin:accounts_member_change", args=[member.pk])).content.decode()
    assert "What we know of them" in page
    assert "RFM" in page and "Favourite partners:" in page


def test_the_outreach_list_opens_on_the_members_at_risk(program, client, chief):
    client.force_login(chief)
    response = client.get(reverse("admin:insights_memberinsight_changelist"))
    assert response.status_code == 302 and "rung__exact=at_risk" in response["Location"]
    assert client.get(response["Location"]).status_code == 200
