"""WSGI entry point (gunicorn loyalty.wsgi): the partner API and the site, each with its own
middleware (see loyalty.base.api.handlers)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")
site = get_wsgi_application()  # sets Django up first

from loyalty.base.api.handlers import ApiWSGIHandler, SplitApplication  # noqa: E402

application = SplitApplication(site=site, api=ApiWSGIHandler())
