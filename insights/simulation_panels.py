"""A simulation's result (insights.simulator, numbers and ids) as the staff page shows it, in
the reader's language: panels like the dashboard's (a title, a sentence, a table, a chart), and
the draft's changes as rows of field, live value and draft value."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Member, Partner
from loyalty.base.formats import money, num, signed
from loyalty.core.models import EarningRule, Tier

from .charts import bar_chart
from .dashboard import Panel
from .draft_models import RuleDraft
from .drafts import decode


def _month_label(month: str, *, short: bool = True) -> str:
    first = date.fromisoformat(month + "-01")
    return date_format(first, "M" if short else "YEAR_MONTH_FORMAT")


def _day(moment: str) -> str:
    return date_format(timezone.localdate(datetime.fromisoformat(moment)), "DATE_FORMAT")


def _three(now, draft, *, amount=None) -> list:
    """Now, with the draft, and the difference, in the reader's format."""
    if amount is not None:
        return [money(now, amount), money(draft, amount), signed(draft - now, 2)]
    return [num(now), num(draft), signed(draft - now)]


def summary_panel(result: dict, currency: str) -> Panel:
    points, owed = result["points"], result["liability"]
    rows = [
        [_("Points issued"), *_three(points["now"], points["draft"])],
        [_("Outstanding points"), *_three(owed["outstanding"], owed["with_draft"])],
        [
            _("Liability"),
            *_three(Decimal(owed["now"]), Decimal(owed["draft"]), amount=currency),
        ],
    ]
    notes = [
        " ".join(
            [
                ngettext(
                    "%(n)s purchase replayed.", "%(n)s purchases replayed.", result["purchases"]
                )
                % {"n": num(result["purchases"])},
                ngettext(
                    "%(n)s of them would earn differently.",
                    "%(n)s of them would earn differently.",
                    result["changed_purchases"],
                )
                % {"n": num(result["changed_purchases"])},
                ngettext(
                    "Their points change for %(n)s member.",
                    "Their points change for %(n)s members.",
                    result["changed_members"],
                )
                % {"n": num(result["changed_members"])},
            ]
        ),
        _("At the time, by the rules then, they earned %(points)s points.")
        % {"points": num(points["recorded"])},
        _(
            "The liability counts the outstanding points at %(value)s a point, as if none of "
            "the difference had been spent or expired: an upper bound."
        )
        % {"value": money(owed["point_value"], currency)},
    ]
    return Panel(
        "summary",
        _("Points issued and liability"),
        _(
            "Every purchase from %(since)s to %(until)s, replayed with the rules as they are now "
            "and with the draft."
        )
        % {"since": _day(result["since"]), "until": _day(result["until"])},
        [_("Figure"), _("With the rules now"), _("With the draft"), _("Difference")],
        rows,
        notes=notes,
    )


def months_panel(result: dict) -> Panel:
    months = result["months"]
    rows = [[_month_label(m["month"], short=False), *_three(m["now"], m["draft"])] for m in months]
    return Panel(
        "months",
        _("Points issued per month"),
        _("By the month the purchases happened in (the first and last months in part)."),
        [_("Month"), _("With the rules now"), _("With the draft"), _("Difference")],
        rows,
        bar_chart(
            [_month_label(m["month"]) for m in months],
            [
                (_("With the rules now"), [m["now"] for m in months]),
                (_("With the draft"), [m["draft"] for m in months]),
            ],
            every=2,
        ),
    )


def partners_panel(result: dict) -> Panel:
    names = dict(
        Partner.objects.filter(pk__in=[p["partner"] for p in result["partners"]]).values_list(
            "pk", "name"
        )
    )
    rows = [
        [names.get(p["partner"], f"#{p['partner']}"), *_three(p["now"], p["draft"])]
        for p in result["partners"]
    ]
    return Panel(
        "partners",
        _("Per partner"),
        _("Points issued for each partner's purchases."),
        [_("Partner"), _("With the rules now"), _("With the draft"), _("Difference")],
        rows,
    )


def categories_panel(result: dict) -> Panel:
    rows = [
        [c["category"] or _("(no category)"), *_three(c["now"], c["draft"])]
        for c in result["categories"]
    ]
    return Panel(
        "categories",
        _("Per category"),
        _(
            "What the purchase lines of each category earn, before each purchase is rounded "
            "down once, so the categories may add up to a little more than the points issued."
        ),
        [_("Category"), _("With the rules now"), _("With the draft"), _("Difference")],
        rows,
    )


def tiers_panel(result: dict) -> Panel:
    tiers = result["tiers"]
    names = {tier.pk: tier.local_name for tier in Tier.objects.all()}
    sample_ids = [pk for move in tiers["moves"] for pk in move.get("sample", [])]
    numbers = dict(Member.objects.filter(pk__in=sample_ids).values_list("pk", "member_number"))

    def members(ids):
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (reverse("admin:accounts_member_change", args=[pk]), numbers[pk])
                for pk in ids
                if pk in numbers
            ),
        )

    rows = [
        [
            names.get(move["from"], _("no tier")),
            names.get(move["to"], _("no tier")),
            num(move["members"]),
            members(move.get("sample", [])),
        ]
        for move in tiers["moves"]
    ]
    return Panel(
        "tiers",
        _("Members who would change tier"),
        _(
            "The tier review's rules applied to each member's qualifying points over the last "
            "%(days)s days, with the rules now and with the draft: the tier each would reach "
            "(a member below their tier moves down one, after the grace period, never while "
            "paused)."
        )
        % {"days": num(result["tier_window_days"])},
        [_("With the rules now"), _("With the draft"), _("Members"), _("For example")],
        rows,
        notes=[
            " ".join(
                [
                    ngettext(
                        "%(n)s member would move up a tier.",
                        "%(n)s members would move up a tier.",
                        tiers["up"],
                    )
                    % {"n": num(tiers["up"])},
                    ngettext(
                        "%(n)s member would move down.",
                        "%(n)s members would move down.",
                        tiers["down"],
                    )
                    % {"n": num(tiers["down"])},
                    ngettext(
                        "(%(n)s member looked at.)",
                        "(%(n)s members looked at.)",
                        tiers["considered"],
                    )
                    % {"n": num(tiers["considered"])},
                ]
            )
        ],
    )


def panels(result: dict, currency: str) -> list[Panel]:
    return [
        summary_panel(result, currency),
        months_panel(result),
        partners_panel(result),
        categories_panel(result),
        tiers_panel(result),
    ]


# --- the draft's changes ----------------------------------------------------------------------


def _shown(model, name: str, value) -> str:
    value = decode(model, name, value)
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, str):
        return value
    if name == "partner":
        partner = Partner.objects.filter(pk=value).only("name").first()
        return partner.name if partner else f"#{value}"
    if isinstance(value, date):
        return date_format(value, "DATE_FORMAT")
    return str(num(value))


def change_rows(draft: RuleDraft) -> list[tuple[str, str, str]]:
    """(what, live value, draft value) for each field the draft changes."""
    if draft.kind == RuleDraft.Kind.RULE:
        return [
            (
                str(EarningRule._meta.get_field(name).verbose_name),
                _shown(EarningRule, name, live) if draft.rule_id else "–",
                _shown(EarningRule, name, proposed),
            )
            for name, (live, proposed) in draft.changes.items()
            # (a new rule's empty fields say nothing)
            if draft.rule_id or proposed not in (None, "")
        ]
    names = {str(tier.pk): tier.local_name for tier in Tier.objects.all()}
    return [
        (
            _("%(tier)s: %(field)s")
            % {"tier": names.get(pk, "#" + pk), "field": Tier._meta.get_field(name).verbose_name},
            _shown(Tier, name, live),
            _shown(Tier, name, proposed),
        )
        for pk, fields in draft.changes.items()
        for name, (live, proposed) in fields.items()
    ]
