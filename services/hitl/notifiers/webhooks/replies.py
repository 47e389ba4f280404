"""What a receiver's HTTP answer means for a delivery: sent, worth a retry (and when), or not.

- 2xx: delivered.
- 3xx: redirects are not followed (a redirect could lead past the destination check), so the
  receiver's URL is wrong: permanent, naming the Location to point the URL at.
- 410 Gone: permanent, and the receiver is disabled until an operator re-enables it.
- 408, 429 and every 5xx: retryable, after the Retry-After the receiver gave (seconds or an
  HTTP date, at most ``MAX_RETRY_AFTER``); 502, 503 and 504 are the usual ones.
- any other 4xx: permanent (the request itself is refused; sending it again will not help).
- anything else (a 1xx as a final answer, a status past 599): retryable, as garbage.
"""

import email.utils
from collections.abc import Mapping
from datetime import UTC

from hitl.errors import Permanent, Retryable

MAX_RETRY_AFTER = 3600.0  # a receiver asking for more is retried after an hour anyway
_RETRYABLE_4XX = frozenset({408, 429})
_SHOWN = 200  # characters of a Location or an error body quoted in a message


def check_status(status: int, headers: Mapping[str, str], excerpt: str, now: float) -> None:
    """Returns for a 2xx; raises ``Retryable`` or ``Permanent`` otherwise. ``excerpt``: the
    start of the response body, quoted in the error; ``now``: for a Retry-After date."""
    if 200 <= status < 300:
        return
    said = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
    if 300 <= status < 400:
        location = _shown(headers.get("location", "")) or "(none)"
        raise Permanent(
            f"HTTP {status}: redirects are not followed; point the receiver's url at the "
            f"final address (Location: {location})",
            status=status,
        )
    if status == 410:
        raise Permanent(
            f"{said}; the receiver is disabled until it is re-enabled", status=status, disable=True
        )
    if status in _RETRYABLE_4XX or 500 <= status < 600:
        wait = retry_after(headers.get("retry-after"), now)
        raise Retryable(said, retry_after=wait, status=status)
    if 400 <= status < 500:
        raise Permanent(said, status=status)
    raise Retryable(f"HTTP {status} is not a final HTTP status", status=status)


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (``120`` or ``Wed, 21 Oct 2026 07:28:00
    GMT``), between 0 and ``MAX_RETRY_AFTER``; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        seconds = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # asctime or "-0000": HTTP dates are all in GMT
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def excerpt(raw: bytes) -> str:
    """A readable start of a response body for an error message: one line, at most
    ``_SHOWN`` characters."""
    return _shown(raw.decode("utf-8", "replace"))


def _shown(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _SHOWN else flat[: _SHOWN - 1] + "…"
