"""Member pages. Each view checks access, calls one service or selector, and renders."""

from __future__ import annotations

from datetime import date

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import i18n
from django.views.decorators.http import require_POST

from accounts import services as account_services
from accounts.errors import MemberExists
from feedback import surveys as feedback_surveys
from loyalty.base.errors import InvalidInput, LoyaltyError
from loyalty.base.web import PER_PAGE, member_required
from loyalty.base.wording import one_period
from loyalty.core import pauses, pending
from loyalty.core.enrolment import member_enroll
from loyalty.core.models import LedgerEntry
from notifications.services import messages_mark_read, messages_word
from referrals import invitations as referral_invitations
from referrals import selectors as referral_selectors
from rewards import services as reward_services
from rewards.models import Voucher

from . import card as member_card
from . import fingerprints, selectors
from .export import member_data_export
from .forms import (
    ClaimForm,
    ClaimSetPasswordForm,
    InviteForm,
    LoginForm,
    MemberPasswordChangeForm,
    MemberPasswordResetForm,
    MemberSetPasswordForm,
    PauseRequestForm,
    ProfileForm,
    SignupForm,
)

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _page(request, queryset):
    return Paginator(queryset, PER_PAGE).get_page(request.GET.get("page"))


def _remember_language(response, language: str):
    """The language cookie too, so the choice holds after logging out."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


# --- visitors: the landing page, joining, logging in ---------------------------------------


def home(request):
    if request.member is not None:
        return redirect("members:dashboard")
    return render(request, "home.html")


def signup(request, referral_code: str = ""):
    """Join on the web; a friend's link (/join/<code>/) fills in their referral code."""
    if request.member is not None:
        return redirect("members:dashboard")
    initial = {"referral_code": referral_code or request.GET.get("code", "")}
    form = SignupForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        device_id = fingerprints.device_id(request)
        try:
            member = member_enroll(
                email=data["email"],
                password=data["password1"],
                first_name=data["first_name"],
                language=data["language"],
                referral_code=data["referral_code"] or None,
                device_hash=fingerprints.device_hash(device_id),
            )
        except MemberExists:
            form.add_error(
                "email",
                format_html(
                    _(
                        "This address already has a membership. "
                        '<a href="{login}">Log in</a> or, if you joined at a till, '
                        '<a href="{claim}">claim your membership</a>.'
                    ),
                    login=reverse("members:login"),
                    claim=reverse("members:claim"),
                ),
            )
        except InvalidInput as error:
            form.add_error(_form_field(form, error), error.message)
        else:
            login(request, member.user, backend=MODEL_BACKEND)
            messages.success(request, _("Welcome! Your membership is ready."))
            response = redirect("members:dashboard")
            fingerprints.remember_device(response, device_id)
            return _remember_language(response, member.language)
    welcome = referral_selectors.referral_welcome(code=form["referral_code"].value() or "")
    response = render(request, "members/signup.html", {"form": form, "welcome": welcome})
    return fingerprints.remember_device(response, fingerprints.device_id(request))


def _form_field(form, error: LoyaltyError) -> str | None:
    field = error.extra.get("field")
    return field if field in form.fields else None


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """Logging out is a POST (Django's rule): a link or a prefetch cannot log a member out. A
    GET (a typed or bookmarked /logout/) gets a page that asks, with the button, instead of
    a blank 405."""

    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        return render(request, "registration/logout_confirm.html")


class PasswordResetView(auth_views.PasswordResetView):
    form_class = MemberPasswordResetForm
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("members:password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = MemberSetPasswordForm
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("members:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"


class ClaimView(auth_views.PasswordResetView):
    """'Claim your membership': a one-time link to set a password, for till members."""

    form_class = ClaimForm
    template_name = "members/claim_form.html"
    email_template_name = "registration/claim_email.txt"
    subject_template_name = "registration/claim_subject.txt"
    success_url = reverse_lazy("members:claim_sent")


class ClaimSentView(auth_views.PasswordResetDoneView):
    template_name = "members/claim_sent.html"


class ClaimConfirmView(auth_views.PasswordResetConfirmView):
    """The link's page: set a password, and be logged in. The link works once: setting the
    password changes what the token was made from."""

    form_class = ClaimSetPasswordForm
    template_name = "members/claim_confirm.html"
    success_url = reverse_lazy("members:dashboard")
    post_reset_login = True
    post_reset_login_backend = MODEL_BACKEND

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        if user is None or user.has_usable_password() or not hasattr(user, "member"):
            return None
        if user.is_staff or user.is_superuser:  # staff never set a password here
            return None
        return user

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Your membership is yours: welcome to your pages."))
        return response


# --- the member's pages ----------------------------------------------------------------------


@member_required
def dashboard(request):
    data = selectors.member_dashboard(member=request.member)
    return render(
        request,
        "members/dashboard.html",
        {
            "dash": data,
            "barcode_svg": member_card.barcode_svg(request.member.member_number),
            "open_survey": feedback_surveys.open_survey(member=request.member),
            "pause": pauses.open_pause(member=request.member),
        },
    )


@member_required
def history(request):
    kind = request.GET.get("kind", "")
    if kind not in LedgerEntry.Kind.values:
        kind = ""
    page = _page(request, selectors.ledger_entries(member=request.member, kind=kind or None))
    selectors.with_reasons(page.object_list)
    # Points in a return window head the first page (no query when nothing is pending).
    waiting = page.number == 1 and kind in ("", LedgerEntry.Kind.EARN)
    return render(
        request,
        "members/history.html",
        {
            "page": page,
            "kind": kind,
            "kinds": LedgerEntry.Kind.choices,
            "pending": list(pending.pending_open(member=request.member)) if waiting else [],
        },
    )


@member_required
def rewards(request):
    items = selectors.reward_catalogue(member=request.member)
    items = selectors.with_tier_distances(member=request.member, items=items)
    return render(request, "members/rewards.html", {"items": items})


REFUSALS = {
    "insufficient_points": gettext_lazy("You do not have enough points for this reward yet."),
    "out_of_stock": gettext_lazy("Sorry, this reward has just run out."),
    "limit_reached": gettext_lazy("You have redeemed this reward as often as it allows."),
    "tier_too_low": gettext_lazy("This reward needs a higher tier."),
    "reward_inactive": gettext_lazy("This reward is not available now."),
    "member_not_active": gettext_lazy("Your membership is closed, so rewards cannot be redeemed."),
}


@member_required
def reward_redeem(request, slug):
    """GET asks for confirmation; POST redeems. A refusal says why and changes nothing."""
    reward = get_object_or_404(selectors.available_rewards(), slug=slug)
    error = None
    if request.method == "POST":
        try:
            redemption = reward_services.reward_redeem(member=request.member, reward=reward)
        except LoyaltyError as refusal:
            error = REFUSALS.get(refusal.code, refusal.message)
        else:
            messages.success(request, _("Done! Here is your voucher."))
            return redirect("members:voucher", code=redemption.voucher.code)
    item = selectors.catalogue_item(reward=reward, member=request.member)
    return render(
        request,
        "members/redeem.html",
        {
            "item": item,
            "error": error,
            "balance_after": request.member.points_balance - item.cost,
        },
    )


@member_required
def vouchers(request):
    page = _page(request, selectors.member_vouchers(member=request.member))
    for voucher in page.object_list:
        voucher.shown_status = selectors.voucher_status(voucher)
        voucher.status_label = Voucher.Status(voucher.shown_status).label
    return render(request, "members/vouchers.html", {"page": page})


@member_required
def voucher(request, code):
    voucher = get_object_or_404(
        selectors.member_vouchers(member=request.member),
        code=reward_services.normalize_voucher_code(code),
    )
    status = selectors.voucher_status(voucher)
    qr = segno.make_qr(voucher.code, error="m")
    svg = qr.svg_inline(scale=1, border=4, omitsize=True, light="#fff", svgclass="qr-code")
    # The code is written out beside it; the picture adds nothing for a screen reader.
    svg = svg.replace("<svg ", '<svg aria-hidden="true" focusable="false" ', 1)
    return render(
        request,
        "members/voucher.html",
        {
            "voucher": voucher,
            "reward": voucher.redemption.reward,
            "status": status,
            "status_label": Voucher.Status(status).label,
            "is_valid": status == Voucher.Status.ISSUED,
            "qr_svg": mark_safe(svg),  # segno's SVG of our own voucher code
        },
    )


@member_required
def referrals(request):
    """The member's code, link and QR code, an invitation form, and their friends so far."""
    member = request.member
    form = InviteForm(data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            referral_invitations.referral_invite(
                referrer=member,
                email=form.cleaned_data["email"],
                vouched=form.cleaned_data["vouched"],
            )
        except LoyaltyError as error:
            form.add_error(_form_field(form, error), error.message)
        else:
            messages.success(request, _("Your invitation is on its way. Thank you!"))
            return redirect("members:referrals")
    page = referral_selectors.referral_page(member=member)
    svg = referral_selectors.referral_qr_svg(url=page["join_url"])
    svg = svg.replace("<svg ", '<svg aria-hidden="true" focusable="false" class="qr-code" ', 1)
    return render(
        request,
        "members/referrals.html",
        {"page": page, "form": form, "qr_svg": mark_safe(svg)},  # segno's SVG of our own link
    )


@member_required
def profile(request):
    member = request.member
    form = ProfileForm.for_member(member, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            account_services.member_update_profile(
                member=member,
                first_name=data["first_name"],
                last_name=data["last_name"],
                language=data["language"],
                delight=data["delight"],
                email_messages=data["email_messages"],
                email_offers=data["email_offers"],
                birthday=data["birthday"],
            )
        except InvalidInput as error:
            form.add_error(_form_field(form, error), error.message)
        else:
            messages.success(request, _("Your profile is saved."))
            return _remember_language(redirect("members:profile"), member.language)
    return _profile_page(request, form=form)


def _profile_page(request, *, form=None, pause_form=None):
    """The profile with its "Take a break" part (loyalty.core.pauses): the member's open pause,
    or when they may ask again, or the form."""
    member = request.member
    policy = pauses.pause_policy()
    pause = pauses.open_pause(member=member)
    allowed_on = pauses.pause_next_allowed(member=member, policy=policy) if not pause else None
    if pause_form is None:
        pause_form = PauseRequestForm(longest=policy.longest_months)
    return render(
        request,
        "members/profile.html",
        {
            "form": form or ProfileForm.for_member(member),
            "pause": pause,
            "pause_allowed_on": allowed_on,
            "pause_form": pause_form,
        },
    )


PAUSE_REFUSALS = {
    "pause_open": gettext_lazy("Your membership is paused already, or your request is with us."),
    "member_not_active": gettext_lazy("Your membership is closed, so it cannot be paused."),
}


@member_required
@require_POST
def pause_ask(request):
    """The member asks for a break; a refusal is shown on the profile and changes nothing."""
    form = PauseRequestForm(request.POST, longest=pauses.pause_policy().longest_months)
    if form.is_valid():
        try:
            pause = pauses.pause_request(
                member=request.member,
                months=form.cleaned_data["months"],
                reason=form.cleaned_data["reason"],
            )
        except LoyaltyError as refusal:
            form.add_error(None, _pause_refusal(refusal))
        else:
            if pause.status == pause.Status.RUNNING:
                messages.success(request, _("Your break has started. Take good care of yourself."))
            else:
                messages.success(request, _("Thank you. Your request is with our team."))
            return redirect("members:profile")
    return _profile_page(request, pause_form=form)


def _pause_refusal(refusal: LoyaltyError) -> str:
    if refusal.code == "pause_too_soon":
        day = date.fromisoformat(refusal.extra["allowed_on"])
        return one_period(
            _("You can ask for another break from %(date)s.")
            % {"date": date_format(day, "DATE_FORMAT")}
        )
    if refusal.code == "invalid_input" and refusal.extra.get("field") == "months":
        return _("Choose a break of 1 to %(months)d months.") % {
            "months": refusal.extra.get("longest", 6)
        }
    return str(PAUSE_REFUSALS.get(refusal.code, refusal.message))


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = MemberPasswordChangeForm
    template_name = "members/password_change.html"
    success_url = reverse_lazy("members:profile")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Your password is changed."))
        return response


@member_required
def data_download(request):
    """Everything about the member as one JSON file."""
    data = member_data_export(member=request.member)
    response = JsonResponse(data, json_dumps_params={"indent": 2, "ensure_ascii": False})
    filename = f"loyalty-{request.member.member_number}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@member_required
def inbox(request):
    page = _page(request, selectors.member_messages(member=request.member))
    # worded now, in the member's language (a message keeps its kind and parameters)
    page.object_list = messages_word(
        page.object_list, language=request.member.language, member=request.member
    )
    return render(request, "members/inbox.html", {"page": page})


@member_required
def message(request, pk):
    """Opening a message marks it read (like any mail reader; doing it twice changes nothing)."""
    message = get_object_or_404(selectors.member_messages(member=request.member), pk=pk)
    if message.read_at is None:
        messages_mark_read(member=request.member, message_ids=[message.pk])
    (message,) = messages_word([message], language=request.member.language, member=request.member)
    return render(request, "members/message.html", {"message": message})


@require_POST
@member_required
def inbox_read_all(request):
    count = messages_mark_read(member=request.member)
    if count:
        messages.success(request, _("All messages are marked as read."))
    return redirect("members:inbox")


@require_POST
def language_set(request):
    """The language switcher: Django's set_language (cookie and redirect back), and for a
    logged-in member the choice is kept on the membership, so it follows them everywhere."""
    language = request.POST.get("language", "")
    if request.member is not None and language in dict(settings.LANGUAGES):
        account_services.member_set_language(member=request.member, language=language)
    return i18n.set_language(request)


password_change = login_required(PasswordChangeView.as_view())
