"""The API's JSON renderer: DRF's JSONRenderer output, written by orjson.

A list of hundreds of containers is a few hundred kilobytes of JSON; the standard library's encoder takes
milliseconds for it, orjson a fraction of that.
"""

import orjson
from rest_framework.renderers import JSONRenderer

# orjson writes datetimes, dates, times and dataclasses its own way: hand them to DRF's encoder instead.
OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
LINE_SEPARATORS_LEAD = "\u2028".encode()[:2]  # the UTF-8 bytes U+2028 and U+2029 begin with


class OrjsonRenderer(JSONRenderer):
    """Renders what DRF's JSONRenderer renders, as the same JSON.

    Types orjson does not know (lazy translation strings, Decimals, datetimes, querysets...) go through DRF's
    encoder's `default`, so they come out as DRF writes them. Whatever orjson refuses (non-str dict keys,
    integers beyond 64 bits, a type neither knows) is rendered by DRF's renderer itself, which gives its own
    result or its own error; so are indented output and settings orjson cannot follow (ASCII-only, not
    compact). One difference is left: orjson writes a NaN or infinite float as null where DRF's strict JSON
    raises ValueError; the API never returns such floats.
    """

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        indent = self.get_indent(accepted_media_type, renderer_context or {})
        if indent is not None or self.ensure_ascii or not self.compact:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            rendered = orjson.dumps(data, default=self.encoder_class().default, option=OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        # As DRF does: escaped, so that the JSON is also a valid JavaScript literal (looked for first: a history
        # answer is megabytes, and replacing copies it).
        if LINE_SEPARATORS_LEAD not in rendered:
            return rendered
        return rendered.replace("\u2028".encode(), b"\\u2028").replace("\u2029".encode(), b"\\u2029")
