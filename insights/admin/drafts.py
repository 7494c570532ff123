"""Rule drafts in the admin: staff draft a change to an earning rule or to the tiers; saving it
queues its simulation, whose page shows what the draft would have done over the last 12 months
(tables and a chart) and publishes it. The rules' and tiers' lists link here (their templates).

Marketing and managers draft and simulate; finance may look at drafts and their simulations;
publishing needs the live write's permission (insights.drafts.publish_permission)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import widgets
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from loyalty.base.errors import LoyaltyError
from loyalty.base.formats import num, signed
from loyalty.base.staff import StaffPages
from loyalty.core.models import EarningRule, Tier

from .. import drafts, simulation_panels
from ..draft_models import RuleDraft, Simulation


def _rule_field(name: str, **kwargs):
    """The earning rule's own form field: its label, help, limits and whether it is required."""
    return EarningRule._meta.get_field(name).formfield(**kwargs)


class RuleDraftForm(forms.ModelForm):
    """The draft's title, the rule it changes (none: a new rule) and the rule as drafted."""

    name = _rule_field("name")
    is_active = _rule_field("is_active")
    points_per_unit = _rule_field("points_per_unit")
    multiplier = _rule_field("multiplier")
    min_amount = _rule_field("min_amount")
    partner = _rule_field("partner")
    category = _rule_field("category")
    valid_from = _rule_field("valid_from", widget=widgets.AdminDateWidget)
    valid_until = _rule_field("valid_until", widget=widgets.AdminDateWidget)

    class Meta:
        model = RuleDraft
        fields = ("title", "rule")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].queryset = EarningRule.objects.order_by("name")
        if self.instance.pk is not None:
            values = drafts.draft_rule_values(self.instance, self.instance.rule)
        else:
            rule = EarningRule.objects.filter(pk=_int(self.initial.get("rule"))).first()
            values = drafts.draft_rule_values(RuleDraft(), rule) if rule else {}
        for name, value in values.items():
            if value is not None:
                self.initial.setdefault(name, value)

    def proposed(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in drafts.RULE_FIELDS}

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        values = self.proposed()
        for name, message in drafts.rule_problems(values):
            self.add_error(name, message)
        rule = cleaned.get("rule")
        if rule is not None and not drafts.rule_changes(rule, values):
            self.add_error(None, _("The draft changes nothing yet."))
        return cleaned


class TierDraftForm(forms.ModelForm):
    """The draft's title and each tier's qualifying points and multiplier (`for_tiers`)."""

    tiers: list[Tier] = []

    class Meta:
        model = RuleDraft
        fields = ("title",)

    @classmethod
    def for_tiers(cls, tiers: list[Tier]) -> type[TierDraftForm]:
        attrs: dict = {"tiers": tiers}
        for tier in tiers:
            for name in drafts.TIER_FIELDS:
                attrs[f"t{tier.pk}_{name}"] = Tier._meta.get_field(name).formfield()
        return type(cls.__name__, (cls,), attrs)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        changes = self.instance.changes if self.instance.pk is not None else {}
        for pk, fields in drafts.draft_tier_values(changes, self.tiers).items():
            for name, value in fields.items():
                self.initial.setdefault(f"t{pk}_{name}", value)

    def proposed(self) -> dict:
        return {
            tier.pk: {
                name: self.cleaned_data.get(f"t{tier.pk}_{name}") for name in drafts.TIER_FIELDS
            }
            for tier in self.tiers
        }

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        values = self.proposed()
        for pk, message in drafts.tier_problems(self.tiers, values):
            self.add_error(f"t{pk}_qualifying_points", message)
        if not drafts.tier_changes(self.tiers, values):
            self.add_error(None, _("The draft changes nothing yet."))
        return cleaned


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


INFO_FIELDS = ("changes_table", "author", "updated_at", "published_at", "published_by")


@admin.register(RuleDraft)
class RuleDraftAdmin(StaffPages, admin.ModelAdmin):
    list_display = ("title", "kind", "rule", "author", "updated_at", "published_at", "difference")
    list_filter = ("kind", ("published_at", admin.EmptyFieldListFilter))
    list_select_related = ("rule", "author")
    search_fields = ("title",)
    readonly_fields = ("kind", *INFO_FIELDS, "created_at")

    # --- which form --------------------------------------------------------------------------

    def _kind(self, request, obj) -> str:
        if obj is not None:
            return obj.kind
        return RuleDraft.Kind.TIERS if request.GET.get("kind") == "tiers" else RuleDraft.Kind.RULE

    def _editing(self, request, obj) -> bool:
        return obj is None or self.has_change_permission(request, obj)

    def _tiers(self, request) -> list[Tier]:
        if not hasattr(request, "_draft_tiers"):
            request._draft_tiers = list(Tier.objects.order_by("rank"))
        return request._draft_tiers

    def get_fieldsets(self, request, obj=None):
        info = (_("The draft"), {"fields": INFO_FIELDS})
        if not self._editing(request, obj):
            return ((None, {"fields": ("title", "kind", "rule", "created_at")}), info)
        if self._kind(request, obj) == RuleDraft.Kind.TIERS:
            sets = [(None, {"fields": ("title",)})] + [
                (tier.local_name, {"fields": [f"t{tier.pk}_{n}" for n in drafts.TIER_FIELDS]})
                for tier in self._tiers(request)
            ]
        else:
            sets = [
                (None, {"fields": ("title", "rule")}),
                (
                    _("The rule as drafted"),
                    {
                        "fields": drafts.RULE_FIELDS,
                        "description": _(
                            "A rate rule sets points per currency unit and leaves the multiplier "
                            "empty; a promotion sets a multiplier and 0 points per unit. Switch "
                            "“active” off to see the program without the rule."
                        ),
                    },
                ),
            ]
        return tuple(sets + ([info] if obj is not None else []))

    def get_form(self, request, obj=None, change=False, **kwargs):
        if not self._editing(request, obj):
            kwargs["fields"] = ()
        elif self._kind(request, obj) == RuleDraft.Kind.TIERS:
            kwargs["form"] = TierDraftForm.for_tiers(self._tiers(request))
        else:
            kwargs["form"] = RuleDraftForm
        return super().get_form(request, obj, change, **kwargs)

    # --- permissions: a published draft is history -------------------------------------------

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or obj.published_at is None)

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or obj.published_at is None)

    # --- writes through the services ---------------------------------------------------------

    def save_model(self, request, obj, form, change):
        if not change:
            obj.kind = self._kind(request, None)
        try:
            drafts.draft_save(
                draft=obj,
                staff=request.user,
                values=form.proposed(),
                rule=form.cleaned_data.get("rule"),
            )
            drafts.simulation_request(draft=obj, staff=request.user)
        except LoyaltyError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def delete_model(self, request, obj):
        try:
            drafts.draft_delete(draft=obj, staff=request.user)
        except LoyaltyError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def delete_queryset(self, request, queryset):
        for draft in queryset:
            self.delete_model(request, draft)

    def _to_simulation(self, obj):
        return HttpResponseRedirect(reverse("admin:insights_ruledraft_simulation", args=[obj.pk]))

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:  # the service refused it (its message is shown)
            return HttpResponseRedirect(reverse("admin:insights_ruledraft_changelist"))
        if "_addanother" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        return self._to_simulation(obj)

    def response_change(self, request, obj):
        if "_continue" in request.POST or "_addanother" in request.POST:
            return super().response_change(request, obj)
        return self._to_simulation(obj)

    # --- what the pages show -----------------------------------------------------------------

    @admin.display(description=_("what it changes"))
    def changes_table(self, obj):
        if obj is None or obj.pk is None:
            return "–"
        return render_to_string(
            "admin/insights/_draft_changes.html",
            {"rows": simulation_panels.change_rows(obj)},
        )

    @admin.display(description=_("points issued, difference"))
    def difference(self, obj):
        done = getattr(obj, "done", None)
        if not done:
            return "–"
        points = done[0].result["points"]
        return signed(points["draft"] - points["now"])

    def get_queryset(self, request):
        # Each draft's finished simulations, newest first: the list's difference column.
        done = Simulation.objects.filter(status=Simulation.Status.DONE).order_by("-requested_at")
        return (
            super()
            .get_queryset(request)
            .select_related("rule", "author", "published_by")
            .prefetch_related(Prefetch("simulations", queryset=done, to_attr="done"))
        )

    # --- the simulation and publishing pages -------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/simulation/",
                view(self.simulation_view),
                name="insights_ruledraft_simulation",
            ),
            path(
                "<path:object_id>/publish/",
                view(self.publish_view),
                name="insights_ruledraft_publish",
            ),
            *super().get_urls(),
        ]

    def _draft(self, request, object_id) -> RuleDraft:
        draft = self.get_object(request, unquote(object_id))
        if draft is None:
            raise Http404(self.not_found_message)
        if not self.has_view_permission(request, draft):
            raise PermissionDenied
        return draft

    def _may_publish(self, request, draft) -> bool:
        return self.has_change_permission(request, draft) and request.user.has_perm(
            drafts.publish_permission(draft)
        )

    def simulation_view(self, request, object_id):
        """The latest simulation of the draft (GET); run it again (POST)."""
        draft = self._draft(request, object_id)
        if request.method == "POST":
            if not self.has_change_permission(request, draft):
                raise PermissionDenied
            try:
                drafts.simulation_request(draft=draft, staff=request.user)
            except LoyaltyError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            return self._to_simulation(draft)
        simulation = draft.simulations.first()
        done = simulation is not None and simulation.status == Simulation.Status.DONE
        waiting = simulation is not None and simulation.status in (
            Simulation.Status.QUEUED,
            Simulation.Status.RUNNING,
        )
        return self.staff_page(
            request,
            "admin/insights/simulation.html",
            title=_("What the draft would have done"),
            obj=draft,
            simulation=simulation,
            current=simulation is not None and simulation.changes == draft.changes,
            waiting=waiting,
            panels=simulation_panels.panels(simulation.result, settings.LOYALTY_CURRENCY)
            if done
            else [],
            rows=simulation_panels.change_rows(draft),
            may_run=self.has_change_permission(request, draft),
            may_publish=self._may_publish(request, draft),
        )

    def publish_view(self, request, object_id):
        """Confirm (GET), then apply the draft to the live rules or tiers (POST)."""
        draft = self._draft(request, object_id)
        if draft.published_at is not None:
            self.message_user(request, _("This draft was published already."), messages.WARNING)
            return self._to_simulation(draft)
        if not self._may_publish(request, draft):
            raise PermissionDenied
        if request.method == "POST":
            try:
                drafts.draft_publish(draft=draft, staff=request.user)
            except LoyaltyError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return self._to_simulation(draft)
            self.message_user(request, _("Published: purchases earn by it from now on."))
            return HttpResponseRedirect(reverse("admin:insights_ruledraft_changelist"))
        simulation = draft.simulations.filter(status=Simulation.Status.DONE).first()
        points = simulation.result["points"] if simulation is not None else None
        return self.staff_page(
            request,
            "admin/insights/draft_publish.html",
            title=_("Publish the draft"),
            obj=draft,
            rows=simulation_panels.change_rows(draft),
            points={"now": num(points["now"]), "draft": num(points["draft"])} if points else None,
        )
