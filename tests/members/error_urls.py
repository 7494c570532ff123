"""The site's URLs plus a page that fails, for the 500 page's tests."""

from django.urls import path

from loyalty.urls import handler400, handler403, handler404, handler500  # noqa: F401
from loyalty.urls import urlpatterns as site_urlpatterns


def fail(request):
    raise RuntimeError("A bug in a member page")


urlpatterns = [path("fail/", fail), *site_urlpatterns]
