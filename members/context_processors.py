"""What every member page's header needs: the member and their unread message count."""

from notifications.models import Message


class _UnreadCount:
    """Counted on first use only (the admin never asks), then kept for the request."""

    def __init__(self, member):
        self.member = member
        self.value = None

    def __call__(self) -> int:
        if self.value is None:
            self.value = (
                Message.objects.filter(member=self.member, read_at__isnull=True).count()
                if self.member is not None
                else 0
            )
        return self.value


def member(request) -> dict:
    current = getattr(request, "member", None)
    return {"member": current, "unread_count": _UnreadCount(current)}
