"""The API's schema (drf-spectacular) and docs, whose refusals are problems like the rest."""

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from .problems import PROBLEM_CONTENT_TYPE


class ProblemsInJSON:
    """The schema (YAML or JSON) and the docs (HTML) render their own formats, but their
    refusals (a method, an Accept or a format they do not serve) are problems in JSON like
    every other error of the API. GET and HEAD only: there is nothing else to ask of them."""

    http_method_names = ["get", "head"]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.content_type == PROBLEM_CONTENT_TYPE:
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = "application/json"
        return response


class SchemaView(ProblemsInJSON, SpectacularAPIView):
    pass


class DocsView(ProblemsInJSON, SpectacularSwaggerView):
    pass
