"""django.contrib.admin, on the staff site of loyalty.admin_site (a module of its own: an app's
config may import no model, and the site's module does)."""

from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    default_site = "loyalty.admin_site.StaffAdminSite"
