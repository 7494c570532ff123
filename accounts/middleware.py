"""The staff pages in the staff member's own language."""

from django.conf import settings
from django.utils import translation

ADMIN_NAMESPACE = "admin"


class StaffLanguageMiddleware:
    """On the admin, a logged-in staff user's `User.language` wins over the cookie and the
    browser (LocaleMiddleware's choice), so the pages, their dates included, read as that
    person's e-mails do on every device. Empty keeps LocaleMiddleware's choice.

    Placed after LocaleMiddleware and AuthenticationMiddleware; the member site has its own
    (members.middleware.MemberMiddleware), the API none."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = getattr(request, "resolver_match", None)
        if match is None or ADMIN_NAMESPACE not in match.namespaces:
            return None
        user = request.user
        language = getattr(user, "language", "") if user.is_authenticated else ""
        if user.is_staff and language in dict(settings.LANGUAGES):
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return None
