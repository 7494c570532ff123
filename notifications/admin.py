from django.contrib import admin

from .models import Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "member", "kind", "subject", "language", "read_at", "emailed_at"]
    list_filter = ["kind", "language"]
    search_fields = ["member__member_number", "member__user__email", "subject"]
    list_select_related = ["member__user"]
    readonly_fields = [f.name for f in Message._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
