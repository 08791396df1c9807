"""Schemathesis hooks for the API fuzz run: keep each generation small so a run takes minutes, not hours.

Only schema-valid values are changed (an `n` of 1..128 becomes at most 2, a `max_tokens` of 1 or more at most 8,
and a chat request without a length gets 8): invalid values, which the server must reject, are sent as generated.
The fuzz run is about what the server accepts and how it answers, not about how long it generates.
"""
import schemathesis

SMALL_CHOICES = 2
SMALL_LENGTH = 8


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@schemathesis.hook
def map_body(ctx, body):
    if not isinstance(body, dict):
        return body
    if _is_int(body.get("n")) and 1 <= body["n"] <= 128:
        body["n"] = min(body["n"], SMALL_CHOICES)
    for field in ("max_tokens", "max_completion_tokens"):
        if _is_int(body.get(field)) and body[field] >= 1:
            body[field] = min(body[field], SMALL_LENGTH)
    if "messages" in body and body.get("max_tokens") is None and body.get("max_completion_tokens") is None:
        body["max_tokens"] = SMALL_LENGTH
    return body
