"""The API's JSON parser: DRF's, refusing documents nested deeper than HOSTFACTORY_JSON_MAX_DEPTH.

Python's ``json`` module parses recursively: about a thousand nested arrays (a 2 kB body)
raise RecursionError, which would be a 500. No Host Factory or API document needs more than
a few levels, so anything deeper than the limit is a 400 before it reaches the parser.

The body size is limited before this runs: DRF hands JSON parsers ``request.body``, which
Django refuses past DATA_UPLOAD_MAX_MEMORY_SIZE (a 413 from the exception handler).
"""

from __future__ import annotations

import io
import re
from array import array
from itertools import accumulate
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# A JSON string, escapes included (unrolled so it never backtracks).
STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# Openers become +1 and closers -1 (as signed bytes); every other byte is dropped.
BRACKETS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
NOT_BRACKETS = bytes(set(range(256)) - set(b"[{]}"))


def json_depth(data: bytes) -> int:
    """How deeply arrays and objects nest in the JSON text ``data`` (0 for a scalar).

    Strings are removed first, so brackets inside them do not count; the rest runs in C
    (translate, accumulate), so a 2 MB body of brackets is checked in milliseconds.
    """
    structure = STRING.sub(b"", data).translate(BRACKETS, NOT_BRACKETS)
    return max(accumulate(array("b", structure)), default=0)


class JSONParser(parsers.JSONParser):
    """``application/json``, with the nesting limit checked before parsing."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        data = stream.read() if stream is not None else b""
        limit = settings.HOSTFACTORY_JSON_MAX_DEPTH
        if json_depth(data) > limit:
            raise ParseError(
                f"JSON parse error - arrays and objects nested more than {limit} levels deep; "
                "no request of this API needs that many"
            )
        return super().parse(io.BytesIO(data), media_type, parser_context)
