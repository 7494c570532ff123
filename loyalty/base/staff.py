"""What the admin pages of every app share: read-only history and the staff-action pages."""

from __future__ import annotations

from django.contrib import admin


class ReadOnlyMixin:
    """View only, for superusers too: history is never added, changed or deleted by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    # Counting a large history table on every page is slow; the paginator does without it.
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)


class ReadOnlyTabularInline(ReadOnlyMixin, admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields
