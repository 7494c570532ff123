"""JSON as the API stores and replays it."""

from rest_framework.renderers import JSONRenderer


class CompactJSONRenderer(JSONRenderer):
    """JSON as the API stores and replays it: compact, whatever `indent` an Accept header asks
    for, so an answer and its replay are the same bytes."""

    def get_indent(self, accepted_media_type, renderer_context):
        return None
