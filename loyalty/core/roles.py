"""Staff roles: one auth group per role, with exactly the permissions in ROLES.

The table is the single source: migration 0016 applies it, and so does every `migrate` after
(post_migrate, connected in the app's ready), so a permission that appears with a later model
lands in its role and a group emptied by a database flush is made again. A group's permissions
are therefore code: change a role here, not in the admin (an edit there is undone by the next
migrate). Staff get a role by being put in its group; superusers need none.

"app.*" means every permission of the app; "-app.codename" takes one away again.
"""

from __future__ import annotations

from django.apps import apps as global_apps

SUPPORT = "Support"
# The feedback book's and the alerts' group (FEEDBACK_MANAGERS_GROUP, LOYALTY_ALERTS_GROUP)
# is called "Managers" by default, so the role and the e-mails reach the same people.
MANAGERS = "Managers"
MARKETING = "Marketing"
FINANCE = "Finance"

# Everything a member's history is made of, to look at.
_HISTORY = [
    "loyalty.view_ledgerentry",
    "loyalty.view_pointlot",
    "loyalty.view_purchase",
    "loyalty.view_refund",
    "loyalty.view_tierchange",
    "loyalty.view_pendingpoints",
]

ROLES: dict[str, list[str]] = {
    # answers feedback; adjusts points up to the policy's limit per action, above it asks
    SUPPORT: [
        "accounts.view_member",
        "accounts.change_member",  # the member's page: adjust points, status
        *_HISTORY,
        "loyalty.view_tier",
        "loyalty.view_pause",
        "loyalty.view_adjustmentrequest",
        "feedback.view_feedbackitem",
        "feedback.change_feedbackitem",
        "feedback.view_feedbackanswer",
        "feedback.add_feedbackanswer",
        "feedback.view_answertemplate",
        "feedback.view_surveyresponse",
        "feedback.view_publishedcase",
        "rewards.view_redemption",
        "rewards.view_voucher",
        "rewards.view_reward",
        "notifications.view_message",
    ],
    # everything in the program: approves large adjustments, erases, edits every policy;
    # not staff accounts and their rights (superusers' job: a manager cannot raise themselves)
    MANAGERS: [
        "accounts.*",
        "-accounts.add_user",
        "-accounts.change_user",
        "-accounts.delete_user",
        "loyalty.*",
        "rewards.*",
        "referrals.*",
        "feedback.*",
        "notifications.*",
        "webhooks.*",
        "insights.*",
        "imports.*",  # importing members and purchases (history brought over)
        "django_celery_beat.view_periodictask",
        "django_celery_beat.change_periodictask",
        "auditlog.view_logentry",  # the audit trail (read-only: no one may change it)
    ],
    # rewards, earning rules (drafted and simulated first), campaigns and the figures
    MARKETING: [
        "accounts.view_member",
        "loyalty.view_tier",
        "loyalty.view_earningrule",
        "loyalty.add_earningrule",
        "loyalty.change_earningrule",
        "loyalty.delete_earningrule",
        "rewards.view_reward",
        "rewards.add_reward",
        "rewards.change_reward",
        "rewards.view_cardtemplate",
        "rewards.add_cardtemplate",
        "rewards.change_cardtemplate",
        "rewards.view_gift",
        "rewards.add_gift",
        "rewards.view_birthdaygiftsettings",
        "rewards.change_birthdaygiftsettings",
        "rewards.view_redemption",
        "rewards.view_voucher",
        "insights.view_snapshot",
        "insights.view_memberinsight",
        "insights.view_rungchange",
        "insights.view_campaign",
        "insights.add_campaign",
        "insights.change_campaign",
        "insights.view_campaignmember",
        "insights.view_outreach",
        "insights.add_outreach",
        "insights.change_outreach",
        # drafts of a rule or tier change and their simulations; publishing a tier change
        # needs loyalty.change_tier (the managers')
        "insights.view_ruledraft",
        "insights.add_ruledraft",
        "insights.change_ruledraft",
        "insights.delete_ruledraft",
    ],
    # the points liability (the dashboard) and the exports, read-only
    FINANCE: [
        "accounts.view_member",
        "accounts.view_partner",
        *_HISTORY,
        "loyalty.view_refundline",
        "loyalty.view_lotmovement",
        "rewards.view_redemption",  # and its CSV export
        "rewards.view_voucher",  # and its CSV export
        "insights.view_snapshot",
        "insights.view_ruledraft",  # what a drafted rule change would cost (the simulation)
    ],
}


def role_permissions(role: str, *, apps=global_apps, strict: bool = True):
    """The Permission rows of a role, the table's wildcards and exceptions expanded. `strict`:
    a permission the table names that does not exist is an error (not strict: left out)."""
    Permission = apps.get_model("auth", "Permission")
    ids: set[int] = set()
    for item in ROLES[role]:
        remove = item.startswith("-")
        app_label, codename = item.lstrip("-").split(".", 1)
        rows = Permission.objects.filter(content_type__app_label=app_label)
        if codename != "*":
            rows = rows.filter(codename=codename)
        found = set(rows.values_list("pk", flat=True))
        if not found and not remove and strict:
            raise LookupError(f"The role {role} names {item}, which does not exist.")
        ids = ids - found if remove else ids | found
    return Permission.objects.filter(pk__in=ids)


def roles_apply(*, apps=global_apps, using: str = "default", strict: bool = True) -> None:
    """Make every role's group with exactly its permissions (idempotent). Not `strict` (migration
    0016): the permissions of a model a later migration makes are left to post_migrate."""
    from django.contrib.auth.management import create_permissions

    # Permissions are made after migrate by post_migrate, app by app: make them all first.
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)  # None on a migration's stub
        app_config.models_module = True
        try:
            create_permissions(app_config, verbosity=0, apps=apps, using=using)
        finally:
            app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    for role in ROLES:
        group, _created = Group.objects.using(using).get_or_create(name=role)
        group.permissions.set(role_permissions(role, apps=apps, strict=strict))


def roles_on_post_migrate(sender, *, apps=global_apps, using="default", **kwargs) -> None:
    """post_migrate for the core app: re-apply the table once the auth tables exist."""
    try:
        apps.get_model("auth", "Group")
        apps.get_model("loyalty", "AdjustmentRequest")
    except LookupError:  # migrating backwards, or not that far yet
        return
    roles_apply(apps=apps, using=using)
