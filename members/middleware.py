"""The logged-in member for every member page, their own language, and security headers."""

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_cache_control

from accounts.models import Member

# Apps with their own pages and rules: no member lookup, no member language, no CSP here.
OTHER_NAMESPACES = frozenset({"admin", "api"})

# Member pages load nothing from elsewhere and run no inline script: only our own script files
# (static/js/char_count.js, the character counters); inline SVG needs no exception.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def _is_member_site(request) -> bool:
    match = getattr(request, "resolver_match", None)
    return match is not None and not (OTHER_NAMESPACES & set(match.namespaces))


class MemberMiddleware:
    """Sets request.member (None for visitors and for users without a membership, e.g. staff).

    Placed after LocaleMiddleware and AuthenticationMiddleware: for a logged-in member the
    language they chose (Member.language) wins over the cookie and the browser's preference,
    so the site speaks to them as their messages do, on every device.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.member = None
        response = self.get_response(request)
        if _is_member_site(request) and response.status_code < 500:
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            if request.member is not None:
                patch_cache_control(response, private=True, no_cache=True)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if _is_member_site(request):
            member_attach(request)
        return None


def member_attach(request) -> None:
    """request.member for a logged-in member, and their language for the rest of the request
    (also used by the site's 404 page, which no view of ours reaches)."""
    if not request.user.is_authenticated:
        return
    member = Member.objects.select_related("user", "tier").filter(user=request.user).first()
    request.member = member
    if member is not None and member.language in dict(settings.LANGUAGES):
        translation.activate(member.language)
        request.LANGUAGE_CODE = member.language
