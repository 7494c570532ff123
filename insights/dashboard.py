"""The staff dashboard's panels, from the latest Snapshot: each panel has a title, a sentence
saying what it shows, a table (header and rows) and, where it helps, a chart. The page and the
panel's CSV download are made from the same table, so they always agree."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _

from . import words
from .charts import BarChart, HBarChart, bar_chart, hbar_chart
from .models import Rung


@dataclass
class Panel:
    key: str
    title: str
    sentence: str
    header: list[str]
    rows: list[list]
    chart: BarChart | HBarChart | None = None
    notes: list[str] = field(default_factory=list)


def _month_label(month: str, *, short: bool = True) -> str:
    if not month:
        return _("never")
    first = date.fromisoformat(month + "-01")
    return date_format(first, "M" if short else "YEAR_MONTH_FORMAT")


def _percent(part: int, whole: int) -> str:
    if not whole:
        return "–"
    return number_format(Decimal(part) * 100 / whole, decimal_pos=1) + " %"


def rungs_panel(figures: dict) -> Panel:
    counts = figures["rungs"]
    rows = [[Rung(rung).label, counts.get(rung, 0)] for rung in Rung.values]
    return Panel(
        "rungs",
        _("Members by rung"),
        _("Where each member stands on the loyalty ladder after last night's run."),
        [_("Rung"), _("Members")],
        rows,
        hbar_chart([str(r[0]) for r in rows], [r[1] for r in rows]),
    )


def tiers_panel(figures: dict) -> Panel:
    rows = [[t["name"], t["members"]] for t in figures["tiers"]]
    return Panel(
        "tiers",
        _("Members by tier"),
        _("How many members are in each tier (closed memberships not counted)."),
        [_("Tier"), _("Members")],
        rows,
        hbar_chart([r[0] for r in rows], [r[1] for r in rows]),
    )


def flow_panel(figures: dict) -> Panel:
    rungs = list(Rung.values)
    rows = [
        [_month_label(m["month"], short=False), m["up"], m["down"]]
        + [m["to"].get(rung, 0) for rung in rungs]
        for m in figures["flow"]
    ]
    labels = [_month_label(m["month"]) for m in figures["flow"]]
    return Panel(
        "flow",
        _("The ladder's flow"),
        _(
            "Members who moved up or down the ladder each month, and onto which rung; a "
            "member's first assessment is not a move."
        ),
        [_("Month"), _("Up"), _("Down")] + [str(Rung(r).label) for r in rungs],
        rows,
        bar_chart(
            labels,
            [(_("Up"), [r[1] for r in rows]), (_("Down"), [r[2] for r in rows])],
            every=2,
        ),
    )


def points_panel(figures: dict) -> Panel:
    rows = [
        [_month_label(m["month"], short=False), m["earned"], m["spent"], m["expired"]]
        for m in figures["points"]
    ]
    return Panel(
        "points",
        _("Points earned, spent and expired"),
        _(
            "Per month: points credited (purchases, gifts, bonuses), spent on rewards, and "
            "expired unused."
        ),
        [_("Month"), _("Earned"), _("Spent"), _("Expired")],
        rows,
        bar_chart(
            [_month_label(m["month"]) for m in figures["points"]],
            [
                (_("Earned"), [r[1] for r in rows]),
                (_("Spent"), [r[2] for r in rows]),
                (_("Expired"), [r[3] for r in rows]),
            ],
            every=2,
        ),
    )


def liability_panel(figures: dict, currency: str) -> Panel:
    owed = figures["liability"]
    breakage = figures["breakage"]
    rows = [
        [_month_label(m["month"], short=False), m["points"], m["value"]] for m in owed["by_month"]
    ]
    notes = [
        _(
            "%(points)s points are outstanding; at %(value)s %(currency)s a point they are "
            "worth %(total)s %(currency)s."
        )
        % {
            "points": number_format(owed["points"], force_grouping=True),
            "value": owed["point_value"],
            "currency": currency,
            "total": number_format(Decimal(owed["value"]), decimal_pos=2, force_grouping=True),
        }
    ]
    if breakage.get("rate") is not None:
        notes.append(
            _(
                "Over the last 24 months %(rate)s of the points used up expired rather than "
                "being spent; at that rate %(points)s of the outstanding points will expire "
                "(%(value)s %(currency)s), leaving %(net)s %(currency)s to honour."
            )
            % {
                "rate": _percent(breakage["expired"], breakage["spent"] + breakage["expired"]),
                "points": number_format(breakage["points"], force_grouping=True),
                "value": number_format(Decimal(breakage["value"]), decimal_pos=2),
                "net": number_format(Decimal(breakage["net_value"]), decimal_pos=2),
                "currency": currency,
            }
        )
    return Panel(
        "liability",
        _("Points liability"),
        _("What the outstanding points are worth, by the month they expire."),
        [_("Expires"), _("Points"), _("Value (%(currency)s)") % {"currency": currency}],
        rows,
        bar_chart(
            [_month_label(m["month"]) for m in owed["by_month"]],
            [(_("Points"), [m["points"] for m in owed["by_month"]])],
            every=max(len(rows) // 8, 1),
        ),
        notes,
    )


def customers_panel(figures: dict, currency: str) -> Panel:
    c = figures["customers"]
    referrals = figures["referrals"]
    rows = [
        [_("Members who bought"), c["bought"]],
        [_("Of them, bought on two days or more"), c["repeat"]],
        [_("Repeat rate"), _percent(c["repeat"], c["bought"])],
        [_("Loyal members"), c["loyal_members"]],
        [
            _("Average 12-month spend of loyal members (%(currency)s)") % {"currency": currency},
            c["loyal_average_spend"] or "–",
        ],
        [_("First-time customers"), c["new_members"]],
        [
            _("Average 12-month spend of first-time customers (%(currency)s)")
            % {"currency": currency},
            c["new_average_spend"] or "–",
        ],
        [_("Referrals made in 12 months"), referrals["made"]],
        [_("Of them, the friend became a customer"), referrals["qualified"]],
        [_("Referral conversion"), _percent(referrals["qualified"], referrals["made"])],
    ]
    return Panel(
        "customers",
        _("Does loyalty pay?"),
        _(
            "How many customers come back, what loyal members spend against first-time ones, "
            "and how many referred friends became customers."
        ),
        [_("Figure"), _("Value")],
        rows,
    )


def campaigns_panel(figures: dict) -> Panel:
    rows, notes = [], []
    for result in figures["campaigns"]:
        treated, held = result["treated"], result["held"]
        rows.append(
            [
                result["name"],
                treated["members"],
                treated["came_back"],
                held["members"],
                held["came_back"],
                treated["redeemed"],
                held["redeemed"],
                words.came_back_words(result)
                + ("" if result["complete"] else " " + _("(still measuring)")),
            ]
        )
        notes.append(f"{result['name']}: {rows[-1][-1]}")
    return Panel(
        "campaigns",
        _("Campaign results"),
        _(
            "Members who bought within the campaign's window after it was sent, against a "
            "random holdout that was sent nothing."
        ),
        [
            _("Campaign"),
            _("Sent"),
            _("Came back"),
            _("Held out"),
            _("Came back without the offer"),
            _("Points redeemed"),
            _("Points redeemed without the offer"),
            _("In words"),
        ],
        rows,
        notes=notes,
    )


def feedback_panel(figures: dict) -> Panel:
    rows = [
        [
            _month_label(m["month"], short=False),
            m["filed"],
            m["complaints"],
            m["median_hours"] or "–",
            _percent(m["answered_in_time"], m["deadline_due"]),
        ]
        for m in figures["feedback"]
    ]
    return Panel(
        "feedback",
        _("Complaint deadlines"),
        _("From the feedback book: what was filed each month and how much was answered in time."),
        [
            _("Month"),
            _("Items filed"),
            _("Complaints"),
            _("Median hours to first answer"),
            _("Answered within the deadline"),
        ],
        rows,
    )


def panels(figures: dict, currency: str) -> list[Panel]:
    return [
        rungs_panel(figures),
        tiers_panel(figures),
        flow_panel(figures),
        points_panel(figures),
        liability_panel(figures, currency),
        customers_panel(figures, currency),
        campaigns_panel(figures),
        feedback_panel(figures),
    ]


def panel(figures: dict, currency: str, key: str) -> Panel | None:
    return next((p for p in panels(figures, currency) if p.key == key), None)
