"""What the insights say to staff, in the reader's language: each rung's rule, each attrition
signal and a campaign's result. Stored data holds kinds and numbers only (models.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import Rung
from .rules import Policy


def rung_rules(policy: Policy) -> list[tuple[str, str]]:
    """Each rung with its rule, in the order they are tried."""
    risk = {
        "factor": number_format(policy.risk_gap_factor, decimal_pos=1),
        "minimum": policy.risk_min_days,
        "first": policy.first_gap_days,
    }
    return [
        (Rung.PROSPECT.label, _("Enrolled, never bought.")),
        (
            Rung.LAPSED.label,
            _("No purchase for %(days)s days, and past their own rhythm.")
            % {"days": policy.lapsed_days},
        ),
        (
            Rung.AT_RISK.label,
            _(
                "More days since the last purchase than %(factor)s times their usual gap (the "
                "median gap between the days they bought on), and at least %(minimum)s days. "
                "With one day of purchases the usual gap is taken as %(first)s days."
            )
            % risk,
        ),
        (
            Rung.ADVOCATE.label,
            _(
                "Loyal, and brought a friend who became a customer or praised us in a "
                "published case."
            ),
        ),
        (
            Rung.LOYAL.label,
            _("Bought in at least %(least)s of the last %(months)s calendar months.")
            % {"least": policy.loyal_min_months, "months": policy.loyal_window_months},
        ),
        (Rung.REPEAT.label, _("Bought on two days or more.")),
        (Rung.FIRST_TIME.label, _("Bought on one day.")),
    ]


def _day(iso: str) -> str:
    return date_format(date.fromisoformat(iso), "SHORT_DATE_FORMAT")


def signal_words(signal: dict) -> str:
    kind = signal.get("kind")
    if kind == "gap":
        return ngettext(
            "%(days)s day since the last purchase; usually %(usual)s",
            "%(days)s days since the last purchase; usually %(usual)s",
            signal["days"],
        ) % {"days": signal["days"], "usual": signal["usual"]}
    if kind == "falling_spend":
        return _("Spend fell to %(recent)s in 6 months, from %(before)s the 6 months before") % {
            "recent": number_format(Decimal(signal["recent"]), decimal_pos=2),
            "before": number_format(Decimal(signal["before"]), decimal_pos=2),
        }
    if kind == "complaint":
        if signal.get("why") == "unanswered":
            return _("Complaint no. %(item)s is waiting past its deadline") % signal
        return _("Rated the answer to complaint no. %(item)s %(rating)s of 5") % signal
    if kind == "downgrade":
        return _("Moves down a tier on %(day)s unless they qualify") % {
            "day": _day(signal["until"])
        }
    if kind == "expiring":
        return ngettext(
            "%(points)s point expires unused by %(day)s",
            "%(points)s points expire unused by %(day)s",
            signal["points"],
        ) % {"points": signal["points"], "day": _day(signal["on"])}
    return str(kind)


def signals_words(signals: list[dict]) -> list[str]:
    return [signal_words(signal) for signal in signals or []]


def came_back_words(result: dict) -> str:
    """'12.4% came back against 8.1% without the offer: +4.3 points, likely between +2.1 and
    +6.5' (or what can be said before anyone is held out)."""
    interval = result.get("came_back")
    if not interval:
        return _("Nobody to compare yet.")

    def signed(value: str) -> str:
        number = Decimal(value)
        text = number_format(number, decimal_pos=1)
        return f"+{text}" if number > 0 else text

    return _(
        "%(treated)s%% came back against %(held)s%% without the offer: %(difference)s points, "
        "likely between %(low)s and %(high)s."
    ) % {
        "treated": number_format(Decimal(interval["treated"]), decimal_pos=1),
        "held": number_format(Decimal(interval["held"]), decimal_pos=1),
        "difference": signed(interval["difference"]),
        "low": signed(interval["low"]),
        "high": signed(interval["high"]),
    }
