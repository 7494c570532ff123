"""What the admin pages of every app share: read-only history and the staff-action pages."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

# A text column of a staff list is cut to this many characters (the whole text is on the
# object's page), so a list of seven or eight columns fits a 1,280-pixel screen.
LIST_TEXT_CHARS = 48


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


class StaffPages:
    """A ModelAdmin mixin for the pages staff actions open: an object's own page (a form, then a
    service) and the confirmation page of an action on the objects selected on the list. The
    accounts', rewards' and feedback book's admins share it."""

    # How many of the selected objects a confirmation page names (and "and N more").
    selection_limit = 20
    # What a page for an object that is not there says.
    not_found_message = _("Nothing with that id was found.")

    def object_for_change(self, request, object_id):
        """The object a page is for, if this staff user may change it (else 404 or 403)."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(self.not_found_message)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        return obj

    def staff_page(self, request, template: str, *, title, form=None, obj=None, **context):
        """A page of the admin's look: the site's context, the title, the form and its media."""
        media = self.media + form.media if form is not None else self.media
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": self.opts,
                "object": obj,
                "form": form,
                "media": media,
                **context,
            },
        )

    def selection(self, name: str, objects: list, action: str | None) -> dict:
        """What an action's confirmation page shows of the selection: the first objects (under
        `name`), how many more, and every id, posted back with the action to apply it."""
        return {
            name: objects[: self.selection_limit],
            "more_count": max(len(objects) - self.selection_limit, 0),
            "selected_pks": [obj.pk for obj in objects],
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
