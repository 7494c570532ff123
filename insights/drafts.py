"""Drafts of a change to the earning rules or the tiers: saved, simulated, published.

A draft is one change: a rule (a new one, or an edited copy of a live one, switched off
included) or the tiers' qualifying points and multipliers. It keeps, for each field it changes,
[the live value when saved, the draft's value], as JSON-safe text (`encode`). Earning never reads
a draft. Publishing writes the live rows (their saves are on the audit trail, and empty the
processes' cached rules) and refuses, with nothing written, when a live value the draft changes
is no longer the one it was drafted against (`DraftStale`): staff save the draft again and see.

Permissions: marketing and managers draft and simulate; publishing needs the permission of the
live write (a rule: `loyalty.add_earningrule` or `change_earningrule`; the tiers:
`loyalty.change_tier`, the managers').
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.base.errors import InvalidInput, NotAllowed
from loyalty.core.models import EarningRule, Tier

from .draft_models import RuleDraft, Simulation
from .errors import DraftPublished, DraftStale

RULE_FIELDS = (
    "name",
    "is_active",
    "points_per_unit",
    "multiplier",
    "min_amount",
    "partner",
    "category",
    "valid_from",
    "valid_until",
)
TIER_FIELDS = ("qualifying_points", "earn_multiplier")
# A simulation asked for again while one of the same changes is this recent is not queued twice.
STILL_RUNNING = timezone.timedelta(minutes=15)


# --- values -----------------------------------------------------------------------------------


def encode(model, name: str, value):
    """A field's value as JSON keeps it: a Decimal as text with the field's decimal places, a
    date as ISO text, an object as its id."""
    field = model._meta.get_field(name)
    if value is None:
        return None
    if isinstance(value, models.Model) or field.is_relation:
        return value.pk if isinstance(value, models.Model) else int(value)
    value = field.to_python(value)
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal(1).scaleb(-field.decimal_places)))
    if isinstance(value, date):
        return value.isoformat()
    return value


def decode(model, name: str, value):
    """A kept value as the model's field holds it (a relation: its id)."""
    field = model._meta.get_field(name)
    if value is None:
        return None
    if field.is_relation:
        return int(value)
    return field.to_python(value)


def live_value(obj, name: str):
    return getattr(obj, obj._meta.get_field(name).attname)


def _differs(model, name: str, live, proposed) -> bool:
    return encode(model, name, live) != encode(model, name, proposed)


def rule_changes(rule: EarningRule | None, values: dict) -> dict:
    """{field: [live, draft]} for what the draft changes of `rule` (every field: a new rule)."""
    changes = {}
    for name in RULE_FIELDS:
        live = live_value(rule, name) if rule is not None else None
        if rule is None or _differs(EarningRule, name, live, values[name]):
            changes[name] = [
                encode(EarningRule, name, live),
                encode(EarningRule, name, values[name]),
            ]
    return changes


def tier_changes(tiers: list[Tier], values: dict) -> dict:
    """{tier id: {field: [live, draft]}} for what the draft changes of the tiers."""
    changes = {}
    for tier in tiers:
        fields = {}
        for name in TIER_FIELDS:
            live, proposed = live_value(tier, name), values.get(tier.pk, {}).get(name)
            if proposed is not None and _differs(Tier, name, live, proposed):
                fields[name] = [encode(Tier, name, live), encode(Tier, name, proposed)]
        if fields:
            changes[str(tier.pk)] = fields
    return changes


def draft_rule_values(draft: RuleDraft, rule: EarningRule | None) -> dict:
    """The draft's rule, every field: the live rule's values with the draft's changes."""
    values = {name: live_value(rule, name) if rule else None for name in RULE_FIELDS}
    for name, (_live, proposed) in draft.changes.items():
        values[name] = decode(EarningRule, name, proposed)
    return values


def draft_tier_values(changes: dict, tiers: list[Tier]) -> dict:
    """{tier id: {field: value}} of every tier: the live values with the draft's changes."""
    values = {}
    for tier in tiers:
        values[tier.pk] = {name: live_value(tier, name) for name in TIER_FIELDS}
        for name, (_live, proposed) in changes.get(str(tier.pk), {}).items():
            values[tier.pk][name] = decode(Tier, name, proposed)
    return values


# --- checks -----------------------------------------------------------------------------------


def rule_problems(values: dict) -> list[tuple[str, str]]:
    """What makes a proposed rule impossible, as (field, message): the database's own rules."""
    problems = []
    rate = values.get("points_per_unit") or Decimal(0)
    multiplier = values.get("multiplier")
    is_rate = rate > 0 and multiplier is None
    is_promotion = rate == 0 and multiplier is not None and multiplier > 0
    if not (is_rate or is_promotion):
        problems.append(
            (
                "points_per_unit",
                _(
                    "A rule is either a rate (points per unit above 0, no multiplier) or a "
                    "promotion (a multiplier above 0, and 0 points per unit)."
                ),
            )
        )
    starts, ends = values.get("valid_from"), values.get("valid_until")
    if starts is not None and ends is not None and ends < starts:
        problems.append(("valid_until", _("A rule cannot end before it starts.")))
    return problems


def tier_problems(tiers: list[Tier], values: dict) -> list[tuple[int, str]]:
    """(tier id, message): a tier needing fewer points than a lower one, a multiplier not above
    0. `tiers` lowest rank first, `values` as draft_tier_values gives them."""
    problems = []
    below = None
    for tier in tiers:
        mine = values[tier.pk]
        if mine["earn_multiplier"] is None or mine["earn_multiplier"] <= 0:
            problems.append((tier.pk, _("A tier's multiplier is above 0.")))
        if below is not None and mine["qualifying_points"] < values[below.pk]["qualifying_points"]:
            problems.append(
                (tier.pk, _("A tier cannot need fewer qualifying points than the tier below it."))
            )
        below = tier
    return problems


def _raise_first(problems) -> None:
    if problems:
        field, message = problems[0]
        raise InvalidInput(message, field=str(field))


# --- services ---------------------------------------------------------------------------------


def _staff(user) -> None:
    if user is None or not user.is_staff:
        raise NotAllowed()


def _unpublished(draft: RuleDraft) -> RuleDraft:
    """The draft's row, locked alone; refused once published."""
    locked = RuleDraft.objects.select_for_update(of=("self",)).filter(pk=draft.pk).first()
    if locked is None or locked.published_at is not None:
        raise DraftPublished()
    return locked


@transaction.atomic
def draft_save(*, draft: RuleDraft, staff, values: dict, rule: EarningRule | None = None):
    """Create or change a draft while it is unpublished. `values`: the proposed rule's fields
    (RULE_FIELDS; kind rule), or {tier id: {field: value}} (kind tiers). The changes are kept
    against the live rows as they are now."""
    _staff(staff)
    if draft.pk is not None:
        _unpublished(draft)
    else:
        draft.author = staff
    if draft.kind == RuleDraft.Kind.RULE:
        _raise_first(rule_problems(values))
        draft.rule = rule
        changes = rule_changes(rule, values)
    else:
        tiers = list(Tier.objects.order_by("rank"))
        proposed = draft_tier_values({}, tiers)
        for tier_id, fields in values.items():
            proposed.get(tier_id, {}).update(fields)
        _raise_first(tier_problems(tiers, proposed))
        draft.rule = None
        changes = tier_changes(tiers, values)
    if not changes:
        raise InvalidInput(_("The draft changes nothing yet."))
    draft.changes = changes
    draft.updated_at = timezone.now()
    draft.save()
    return draft


@transaction.atomic
def draft_delete(*, draft: RuleDraft, staff) -> None:
    """Delete an unpublished draft with its simulations (a published one is history)."""
    _staff(staff)
    _unpublished(draft).delete()


@transaction.atomic
def simulation_request(*, draft: RuleDraft, staff) -> Simulation:
    """Queue a simulation of the draft as it is (run by insights.tasks.simulation_task after
    commit; eagerly, in this process, without a broker). One of the same changes still waiting
    or running is returned instead of queueing another."""
    from .tasks import simulation_task

    _staff(staff)
    locked = _unpublished(draft)
    latest = locked.simulations.first()
    if (
        latest is not None
        and latest.status in (Simulation.Status.QUEUED, Simulation.Status.RUNNING)
        and latest.changes == locked.changes
        and latest.requested_at > timezone.now() - STILL_RUNNING
    ):
        return latest
    simulation = Simulation.objects.create(draft=locked, changes=locked.changes, requested_by=staff)
    # (robust: with the broker out of reach the request stands, waiting; staff may ask again)
    transaction.on_commit(lambda: simulation_task.delay(simulation.pk), robust=True)
    return simulation


def publish_permission(draft: RuleDraft) -> str:
    if draft.kind == RuleDraft.Kind.TIERS:
        return "loyalty.change_tier"
    return "loyalty.change_earningrule" if draft.rule_id else "loyalty.add_earningrule"


@transaction.atomic
def draft_publish(*, draft: RuleDraft, staff) -> RuleDraft:
    """Apply the draft to the live rows, once. Refused without the live write's permission
    (NotAllowed), when published already (DraftPublished), and when a live value it changes is
    not the one it was drafted against (DraftStale); then nothing is written."""
    _staff(staff)
    locked = _unpublished(draft)
    if not staff.has_perm(publish_permission(locked)):
        raise NotAllowed()
    if locked.kind == RuleDraft.Kind.RULE:
        _publish_rule(locked)
    else:
        _publish_tiers(locked)
    locked.published_at = timezone.now()
    locked.published_by = staff
    locked.save(update_fields=["published_at", "published_by", "rule"])
    return locked


def _check_live(model, obj, fields: dict) -> None:
    for name, (live, _proposed) in fields.items():
        if live_value(obj, name) != decode(model, name, live):
            raise DraftStale()


def _save_checked(obj, update_fields=None) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages)) from exc
    obj.save(update_fields=update_fields)


def _publish_rule(draft: RuleDraft) -> None:
    if draft.rule_id is None:
        rule = EarningRule()
    else:
        rule = EarningRule.objects.select_for_update(of=("self",)).filter(pk=draft.rule_id).first()
        if rule is None:
            raise DraftStale()
        _check_live(EarningRule, rule, draft.changes)
    for name, (_live, proposed) in draft.changes.items():
        setattr(
            rule, EarningRule._meta.get_field(name).attname, decode(EarningRule, name, proposed)
        )
    _raise_first(rule_problems({name: live_value(rule, name) for name in RULE_FIELDS}))
    if rule.pk is None:
        _save_checked(rule)
        draft.rule = rule  # the draft now names the rule it made
    else:
        _save_checked(rule, [EarningRule._meta.get_field(n).attname for n in draft.changes])


def _publish_tiers(draft: RuleDraft) -> None:
    ids = sorted(int(pk) for pk in draft.changes)
    locked = {
        tier.pk: tier
        for tier in Tier.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk")
    }
    if len(locked) != len(ids):
        raise DraftStale()
    for pk in ids:
        _check_live(Tier, locked[pk], draft.changes[str(pk)])
    tiers = list(Tier.objects.order_by("rank"))
    values = draft_tier_values(draft.changes, tiers)
    _raise_first(tier_problems(tiers, values))
    for pk in ids:
        tier = locked[pk]
        for name in draft.changes[str(pk)]:
            setattr(tier, name, values[pk][name])
        _save_checked(tier, list(draft.changes[str(pk)]))
