"""The member site, mounted at "/" after the admin and the API."""

from django.urls import path

from . import card_views, closing, views

app_name = "members"

urlpatterns = [
    path("", views.home, name="home"),
    path("join/", views.signup, name="signup"),
    path("join/<str:referral_code>/", views.signup, name="signup_referred"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("claim/", views.ClaimView.as_view(), name="claim"),
    path("claim/sent/", views.ClaimSentView.as_view(), name="claim_sent"),
    path("claim/<uidb64>/<token>/", views.ClaimConfirmView.as_view(), name="claim_confirm"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("history/", views.history, name="history"),
    path("rewards/", views.rewards, name="rewards"),
    path("rewards/<slug:slug>/redeem/", views.reward_redeem, name="redeem"),
    path("rewards/<slug:slug>/save-for/", card_views.saving_goal_set, name="saving_goal_set"),
    path("rewards/saving-goal/clear/", card_views.saving_goal_clear, name="saving_goal_clear"),
    path("card/", card_views.card, name="card"),
    path("vouchers/", views.vouchers, name="vouchers"),
    path("vouchers/<str:code>/", views.voucher, name="voucher"),
    path("referrals/", views.referrals, name="referrals"),
    path("profile/", views.profile, name="profile"),
    path("profile/break/", views.pause_ask, name="pause_ask"),
    path("profile/password/", views.password_change, name="password_change"),
    path("profile/my-data.json", views.data_download, name="data_download"),
    path("profile/close/", closing.account_close, name="account_close"),
    path("goodbye/", closing.account_closed, name="account_closed"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read-all/", views.inbox_read_all, name="inbox_read_all"),
    path("inbox/<int:pk>/", views.message, name="message"),
    path("language/", views.language_set, name="set_language"),
]
