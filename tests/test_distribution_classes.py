"""Every table has a class for distributing by member (docs/SCALING.md, "Which table is which"):
a model added without one fails here, so a new table cannot quietly block distribution. The
classes are checked against the models: a table said to carry its member's id carries it."""

import fnmatch

from django.apps import apps

BY_MEMBER_ID = {
    "loyalty_ledgerentry",
    "loyalty_pointlot",
    "loyalty_purchase",
    "loyalty_purchaseline",
    "loyalty_refund",
    "loyalty_refundline",
    "loyalty_lotmovement",
    "loyalty_pendingpoints",
    "loyalty_tierchange",
    "loyalty_pause",
    "loyalty_adjustmentrequest",
    "rewards_redemption",
    "rewards_voucher",
    "rewards_occasiongrant",
    "rewards_gift",
    "rewards_savinggoal",
    "referrals_signupfingerprint",
    "notifications_message",
    "feedback_feedbackitem",
    "feedback_feedbackanswer",
    "feedback_publishedcase",
    "feedback_surveyresponse",
    "insights_memberinsight",
    "insights_purchasestats",
    "insights_rungchange",
    "insights_outreach",
    "insights_campaignmember",
    "accounts_erasure",
    "webhooks_webhookevent",
    "webhooks_webhookdelivery",
    "notifications_outgoingemail",  # (empty for staff alerts: member 0 or a local table then)
}
CLASSES = {
    "distributed by member: id": {"accounts_member"},
    "distributed by member_id": BY_MEMBER_ID,
    "distributed by member under another name": {"referrals_referral", "referrals_invitation"},
    "distributed by their own key": {"loyalty_idempotencyrecord", "referrals_referralcode"},
    "reference": {
        "loyalty_tier",
        "loyalty_earningrule",
        "accounts_partner",
        "accounts_partnerapikey",
        "webhooks_webhookendpoint",
        "rewards_reward",
        "rewards_cardtemplate",
        "rewards_birthdaygiftsettings",
        "rewards_birthdaygiftsettings_surprise_rewards",
        "feedback_responsepolicy",
        "feedback_answertemplate",
        "loyalty_adjustmentpolicy",
        "loyalty_pausepolicy",
        "insights_insightspolicy",
        "insights_campaign",
        "django_content_type",
        "auth_permission",
        "auth_group",
        "auth_group_permissions",
    },
    "coordinator only": {
        "accounts_user",
        "accounts_user_groups",
        "accounts_user_user_permissions",
        "django_session",
        "django_admin_log",
        "auditlog_logentry",
        "django_celery_beat_*",
        "axes_*",
        "otp_totp_totpdevice",
        "loyalty_jobrun",
        "loyalty_jobbatch",
        "loyalty_anomaly",
        "insights_snapshot",
        "insights_pointsmonth",
        # staff's own work, read and written in the admin: imports and rule drafts
        "imports_importjob",
        "imports_importrowerror",
        "insights_ruledraft",
        "insights_simulation",
    },
}


def _models_by_table():
    return {m._meta.db_table: m for m in apps.get_models(include_auto_created=True)}


def _classes_of(table: str) -> list[str]:
    return [
        name
        for name, tables in CLASSES.items()
        if any(fnmatch.fnmatchcase(table, pattern) for pattern in tables)
    ]


def _attnames(model) -> set[str]:
    return {field.attname for field in model._meta.concrete_fields}


def test_every_table_has_exactly_one_class():
    classes = {table: _classes_of(table) for table in _models_by_table()}

    unclassified = sorted(table for table, found in classes.items() if not found)
    twice = sorted(table for table, found in classes.items() if len(found) > 1)
    assert unclassified == [], "classify these tables (docs/SCALING.md, Which table is which)"
    assert twice == []


def test_every_named_table_exists():
    tables = set(_models_by_table())
    named = {
        pattern
        for patterns in CLASSES.values()
        for pattern in patterns
        if not any(fnmatch.fnmatchcase(table, pattern) for table in tables)
    }
    assert named == set()


def test_the_member_key_is_where_the_classes_say():
    models = _models_by_table()

    assert sorted(t for t in BY_MEMBER_ID if "member_id" not in _attnames(models[t])) == []
    assert "referee_id" in _attnames(models["referrals_referral"])
    assert "referrer_id" in _attnames(models["referrals_invitation"])
