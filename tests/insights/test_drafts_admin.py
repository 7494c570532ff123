"""Rule drafts in the admin: who may draft, simulate, look and publish; the simulation page's
table and chart; every write on the audit trail; the rules' pages link to it."""

import re
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from insights.draft_models import RuleDraft, Simulation
from loyalty.core import roles
from loyalty.core.models import EarningRule, Tier
from tests import factories

from .test_simulator import buy, line, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def coffee(tiers, partner, base_rule):
    rule = factories.make_rule(name="Coffee", category="coffee", points_per_unit=2)
    member = factories.make_member(email="ona@example.com")
    buy(member, partner, 40, "50.00", [line("coffee", "10.00"), line("bread", "40.00")])
    buy(member, partner, 10, "5.00", [line("coffee", "5.00")])
    return rule


def rule_form(rule: EarningRule, **changes) -> dict:
    data = {
        "title": "Coffee at 3",
        "rule": rule.pk,
        "name": rule.name,
        "is_active": "on",
        "points_per_unit": str(rule.points_per_unit),
        "multiplier": "",
        "min_amount": "",
        "partner": "",
        "category": rule.category,
        "valid_from": "",
        "valid_until": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def add_url(**query) -> str:
    url = reverse("admin:insights_ruledraft_add")
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_marketing_drafts_a_rule_change_and_sees_what_it_would_have_done(
    client, coffee, django_capture_on_commit_callbacks
):
    # given
    marketing = staff(roles.MARKETING, "marketing@example.com")
    client.force_login(marketing)
    form = client.get(add_url(rule=coffee.pk))
    assert form.status_code == 200
    assert form.context["adminform"].form.initial["points_per_unit"] == Decimal("2.000")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(add_url(rule=coffee.pk), rule_form(coffee, points_per_unit="3"))

    # then: saved, simulated, and its page shows the table and the chart
    draft = RuleDraft.objects.get()
    assert (draft.author, draft.rule, draft.changes) == (
        marketing,
        coffee,
        {"points_per_unit": ["2.000", "3.000"]},
    )
    assert saved.status_code == 302
    assert saved["Location"] == reverse("admin:insights_ruledraft_simulation", args=[draft.pk])
    assert draft.simulations.get().status == Simulation.Status.DONE
    page = client.get(saved["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    for key in ("summary", "months", "partners", "categories", "tiers"):
        assert f'id="panel-{key}"' in html
    assert '<svg class="insights-chart"' in html
    summary = html.split('id="panel-summary"', 1)[1].split("</section>", 1)[0]
    # coffee: 15 € at one point more a euro
    assert re.search(r"<td>Points issued</td><td>70</td><td>85</td><td>\+15</td>", summary)
    assert "Publish" in html and "Run the simulation again" in html
    assert "<script" not in html.split('id="content-main"', 1)[1]
    # the draft's creation is on the audit trail, by its author, and so is a run asked again
    assert LogEntry.objects.filter(
        content_type__model="ruledraft", object_pk=str(draft.pk), actor=marketing
    ).exists()
    assert client.post(saved["Location"]).status_code == 302
    assert LogEntry.objects.filter(
        additional_data__operation="simulation", object_pk=str(draft.pk), actor=marketing
    ).exists()


def test_an_impossible_rule_is_a_form_error(client, coffee):
    client.force_login(staff(roles.MARKETING, "marketing@example.com"))
    response = client.post(add_url(rule=coffee.pk), rule_form(coffee, multiplier="2"))
    assert response.status_code == 200
    assert "either a rate" in response.content.decode()
    assert not RuleDraft.objects.exists()


def test_a_tier_draft_is_published_by_a_manager_not_by_marketing(
    client, coffee, tiers, django_capture_on_commit_callbacks
):
    # given: marketing drafts Silver from 40 points (Ona has 70)
    marketing = staff(roles.MARKETING, "marketing@example.com")
    client.force_login(marketing)
    data = {"title": "Silver sooner"}
    for tier in Tier.objects.all():
        data[f"t{tier.pk}_qualifying_points"] = tier.qualifying_points
        data[f"t{tier.pk}_earn_multiplier"] = str(tier.earn_multiplier)
    data[f"t{tiers['silver'].pk}_qualifying_points"] = 40
    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(add_url(kind="tiers"), data)
    assert saved.status_code == 302
    draft = RuleDraft.objects.get()
    assert draft.kind == RuleDraft.Kind.TIERS
    page = client.get(saved["Location"]).content.decode()
    assert "Members who would change tier" in page
    tiers_panel = page.split('id="panel-tiers"', 1)[1].split("</section>", 1)[0]
    assert "1 member would move up a tier. 0 members would move down." in tiers_panel
    publish = reverse("admin:insights_ruledraft_publish", args=[draft.pk])
    assert publish not in page  # not marketing's to publish

    # when: marketing tries, then a manager publishes
    refused = client.post(publish)
    manager = staff(roles.MANAGERS, "manager@example.com")
    client.force_login(manager)
    assert client.get(publish).status_code == 200
    published = client.post(publish)

    # then
    assert refused.status_code == 403
    assert published.status_code == 302
    assert Tier.objects.get(pk=tiers["silver"].pk).qualifying_points == 40
    draft.refresh_from_db()
    assert draft.published_by == manager
    tier_record = LogEntry.objects.get(
        content_type__model="tier",
        object_pk=str(tiers["silver"].pk),
        action=LogEntry.Action.UPDATE,
    )
    assert (tier_record.actor, tier_record.changes["qualifying_points"]) == (manager, ["500", "40"])
    assert LogEntry.objects.filter(
        additional_data__operation="publish", object_pk=str(draft.pk), actor=manager
    ).exists()
    # a published draft is history: not changed, not published again
    assert (
        client.get(reverse("admin:insights_ruledraft_change", args=[draft.pk])).status_code == 200
    )
    assert (
        client.post(reverse("admin:insights_ruledraft_change", args=[draft.pk]), data).status_code
        == 403
    )
    client.post(publish)
    assert RuleDraft.objects.get(pk=draft.pk).published_at == draft.published_at


def test_marketing_publishes_a_rule_draft(client, coffee, partner):
    # given
    marketing = staff(roles.MARKETING, "marketing@example.com")
    client.force_login(marketing)
    client.post(add_url(rule=coffee.pk), rule_form(coffee, points_per_unit="3"))
    draft = RuleDraft.objects.get()

    # when
    response = client.post(reverse("admin:insights_ruledraft_publish", args=[draft.pk]))

    # then: live, and on the trail by marketing
    assert response.status_code == 302
    coffee.refresh_from_db()
    assert coffee.points_per_unit == 3
    record = LogEntry.objects.get(
        content_type__model="earningrule",
        object_pk=str(coffee.pk),
        action=LogEntry.Action.UPDATE,
    )
    assert record.actor == marketing
    member = factories.make_member(email="jonas@example.com")
    assert buy(member, partner, 0, "4.00", [line("coffee", "4.00")]).points == 12


def test_finance_looks_but_neither_drafts_nor_runs(
    client, coffee, django_capture_on_commit_callbacks
):
    # given: a simulated draft
    marketing = staff(roles.MARKETING, "marketing@example.com")
    client.force_login(marketing)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(add_url(rule=coffee.pk), rule_form(coffee, points_per_unit="3"))
    draft = RuleDraft.objects.get()
    simulation_url = reverse("admin:insights_ruledraft_simulation", args=[draft.pk])
    client.force_login(staff(roles.FINANCE, "finance@example.com"))

    # when
    page = client.get(simulation_url)
    run = client.post(simulation_url)
    change = client.get(reverse("admin:insights_ruledraft_change", args=[draft.pk]))

    # then
    assert page.status_code == 200 and 'id="panel-summary"' in page.content.decode()
    assert "Run the simulation" not in page.content.decode()
    assert run.status_code == 403
    assert change.status_code == 200  # read-only
    assert client.get(add_url()).status_code == 403
    assert draft.simulations.count() == 1


@pytest.mark.parametrize(("role", "allowed"), [("Support", False), ("Finance", True)])
def test_who_sees_a_simulation(client, coffee, role, allowed):
    draft = RuleDraft.objects.create(
        title="x", rule=coffee, changes={"points_per_unit": ["2.000", "3.000"]}
    )
    client.force_login(staff(role, f"{role.lower()}@example.com"))
    url = reverse("admin:insights_ruledraft_simulation", args=[draft.pk])
    assert client.get(url).status_code == (200 if allowed else 403)


def test_the_rules_pages_link_to_drafting(client, coffee):
    client.force_login(staff(roles.MARKETING, "marketing@example.com"))
    rule_page = client.get(reverse("admin:loyalty_earningrule_change", args=[coffee.pk]))
    rules = client.get(reverse("admin:loyalty_earningrule_changelist"))
    assert f"{add_url()}?rule={coffee.pk}" in rule_page.content.decode()
    assert add_url() in rules.content.decode()
    client.force_login(staff(roles.MANAGERS, "manager@example.com"))
    tiers = client.get(reverse("admin:loyalty_tier_changelist"))
    assert f"{add_url()}?kind=tiers" in tiers.content.decode()
