from django.contrib import admin
from django.utils import translation
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from loyalty.base.staff import LIST_TEXT_CHARS, ReadOnlyAdmin

from .models import Message, OutgoingEmail
from .services import message_words


def _staff_words(obj: Message) -> tuple[str, str]:
    """The message in the staff member's language (the admin's active one)."""
    return message_words(obj, language=translation.get_language())


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Messages worded in the staff member's language; `subject` and `body` as first sent."""

    list_display = [
        "created_at",
        "member",
        "kind",
        "subject_short",
        "language",
        "read_at",
        "emailed_at",
    ]
    list_filter = ["kind", "language"]
    search_fields = ["member__member_number", "member__user__email", "subject"]
    list_select_related = ["member__user"]
    readonly_fields = ["shown_subject", "shown_body", *(f.name for f in Message._meta.fields)]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("subject"))
    def subject_short(self, obj):
        return Truncator(_staff_words(obj)[0]).chars(LIST_TEXT_CHARS)

    @admin.display(description=_("subject in your language"))
    def shown_subject(self, obj):
        return _staff_words(obj)[0]

    @admin.display(description=_("text in your language"))
    def shown_body(self, obj):
        return _staff_words(obj)[1]


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(ReadOnlyAdmin):
    """The e-mail outbox: what went, what waits for its next attempt and why, what failed."""

    list_display = ["created_at", "kind", "object_id", "status", "attempts", "next_attempt_at"]
    list_filter = ["status", "kind"]
    search_fields = ["=object_id", "=id"]
    fields = [
        "id",
        "kind",
        "object_id",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
        "created_at",
    ]
