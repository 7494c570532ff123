"""The staff pages fit the staff's day: the index in the order of their work."""

from django.urls import reverse

from loyalty.admin_site import app_sort_key

# --- the index ------------------------------------------------------------------------------


def test_the_index_lists_the_staff_work_first_and_the_internals_last(admin_client):
    # when
    response = admin_client.get(reverse("admin:index"))

    # then
    assert response.status_code == 200
    labels = [app["app_label"] for app in response.context["app_list"]]
    assert labels == [
        "accounts",
        "loyalty",
        "rewards",
        "feedback",
        "referrals",
        "notifications",
        "webhooks",
        # then the rest by name: "Axes", "Otp_Totp", "Periodic Tasks"
        "axes",
        "otp_totp",
        "django_celery_beat",
        "auth",
    ]
    models = {
        app["app_label"]: [model["object_name"] for model in app["models"]]
        for app in response.context["app_list"]
    }
    assert models["accounts"][0] == "Member"
    assert models["loyalty"][:3] == ["LedgerEntry", "Purchase", "Refund"]
    assert models["feedback"][0] == "FeedbackItem"
    assert models["rewards"][0] == "Redemption"


def test_the_sidebar_follows_the_same_order(admin_client):
    # when: any admin page but the index
    response = admin_client.get(reverse("admin:loyalty_tier_changelist"))

    # then
    sidebar = [app["app_label"] for app in response.context["available_apps"]]
    assert sidebar[:4] == ["accounts", "loyalty", "rewards", "feedback"]
    assert sidebar[-1] == "auth"


def test_an_app_page_lists_its_models_in_the_order_of_the_work(admin_client):
    # when
    response = admin_client.get(reverse("admin:app_list", args=["rewards"]))

    # then
    apps = response.context["app_list"]
    assert [app["app_label"] for app in apps] == ["rewards"]
    assert [m["object_name"] for m in apps[0]["models"]] == [
        "Redemption",
        "Voucher",
        "Reward",
        "OccasionGrant",
    ]


def test_the_order_takes_insights_in_its_place_and_unknown_apps_after_ours():
    # given: apps as the admin builds them, an insights app and another third-party app among
    apps = [
        {"app_label": label, "name": name}
        for label, name in [
            ("auth", "Authentication and Authorization"),
            ("zeta", "Another library"),
            ("webhooks", "Webhooks"),
            ("insights", "Insights"),
            ("axes", "Axes"),
            ("feedback", "Feedback"),
            ("accounts", "Accounts"),
        ]
    ]

    # when
    labels = [app["app_label"] for app in sorted(apps, key=app_sort_key)]

    # then
    assert labels == ["accounts", "feedback", "insights", "webhooks", "zeta", "axes", "auth"]
