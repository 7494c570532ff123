"""What the member pages of every app share (the member site's own pages are in members/, the
complaints book's in feedback/)."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render

PER_PAGE = 25


def member_required(view):
    """Logged in, with a membership; a user without one (staff) gets a friendly page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if request.member is None:
            return render(request, "members/no_member.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


class NoColon:
    """Labels without a trailing colon (the fields stand under their labels)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
