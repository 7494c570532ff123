"""What the admin pages of every app share: read-only history, the staff-action pages, one-row
policy pages, a member's link and CSV downloads."""

from __future__ import annotations

import csv
from datetime import date, datetime

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .errors import LoyaltyError

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


class SingleRowAdmin(admin.ModelAdmin):
    """A policy's one row (pk 1, made by its migration): the list opens it, it is neither added
    nor deleted, and a save goes through the app's service (`row_update`), whose refusal is
    shown as an error with nothing saved."""

    def row(self):
        """Make the row again if it is missing (a flushed database); None: it is always there."""

    def row_update(self, request, changes: dict) -> None:
        raise NotImplementedError

    def changelist_view(self, request, extra_context=None):
        self.row()
        meta = self.model._meta
        return HttpResponseRedirect(
            reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[1])
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            self.row_update(request, {name: form.cleaned_data[name] for name in form.changed_data})
        except LoyaltyError as exc:
            self.message_user(request, exc.message, messages.ERROR)


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


def member_link(member) -> str:
    """The member's number, linked to their admin page (the URL by name: no app imported)."""
    url = reverse("admin:accounts_member_change", args=[member.pk])
    return format_html('<a href="{}">{}</a>', url, member.member_number)


# A cell starting with one of these is a formula to a spreadsheet; it is written as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_response(filename: str, header, rows) -> HttpResponse:
    """A CSV download: the header's titles, then the rows, each cell through csv_cell."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow([str(title) for title in header])
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return response
