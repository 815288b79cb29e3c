"""What the proxy lets through: one canonical request target and an allow-list of (method, path).

The proxy decides on exactly one path and forwards exactly that path. The request target is
percent-decoded once, segment by segment; dot segments are resolved (RFC 3986, 5.2.4);
anything that could be read two ways is refused instead of being "fixed": encoded separators
(``%2F``, ``%5C``), backslashes, NUL and other control characters, invalid escapes or UTF-8,
and ``..`` that would climb above the root. Empty segments (``//``) are kept, so such a path
simply matches nothing. The target sent upstream is re-encoded from the decoded segments and
contains no dot segment, so no HTTP client on the way can normalise it into something else.

The allow-list is the OpenAI-compatible, Anthropic-compatible and native read/generate API of
the Ollama release omc pins (``server/routes.go``: ``GenerateRoutes``). Everything that
changes the model store is refused with 403; every other path is 404, and a known path with
another method is 405 with an ``Allow`` header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

# (path, methods). HEAD only where Ollama itself serves HEAD.
ALLOWED: dict[str, tuple[str, ...]] = {
    # OpenAI-compatible
    "/v1/chat/completions": ("POST",),
    "/v1/completions": ("POST",),
    "/v1/embeddings": ("POST",),
    "/v1/responses": ("POST",),
    "/v1/models": ("GET",),
    # Anthropic-compatible
    "/v1/messages": ("POST",),
    # Native
    "/api/generate": ("POST",),
    "/api/chat": ("POST",),
    "/api/embed": ("POST",),
    "/api/embeddings": ("POST",),
    "/api/show": ("POST",),
    "/api/tags": ("GET", "HEAD"),
    "/api/ps": ("GET",),
    "/api/version": ("GET", "HEAD"),
}
# /v1/models/{model}: one segment, as Ollama's router matches it.
MODEL_INFO_PREFIX = "/v1/models/"
MODEL_INFO_METHODS = ("GET",)
# The model store is filled by `omc deploy`; these would change or read it behind omc's back.
BLOCKED = frozenset({"/api/pull", "/api/push", "/api/delete", "/api/create", "/api/copy", "/api/blobs"})
BLOCKED_PREFIXES = ("/api/blobs/",)

ALLOWED_METHODS = tuple(sorted({m for ms in ALLOWED.values() for m in ms}))

_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_ENCODED_SEPARATOR = re.compile(rb"%(2[fF]|5[cC])")
# RFC 3986 pchar minus "%": what stays literal when a decoded segment is encoded again.
_SEGMENT_SAFE = "-._~!$&'()*+,;=:@"


class TargetError(ValueError):
    """The request target cannot be read one way only; ``status`` is what the caller gets."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Target:
    path: str  # decoded, dot segments resolved: what the allow-list decides on
    raw: bytes  # the same path, percent-encoded: what is sent upstream

    @property
    def segments(self) -> list[str]:
        return self.path.split("/")[1:]


def canonical_target(raw_path: bytes, *, decoded: bool = False) -> Target:
    """The one canonical form of a request path (no query). ``decoded``: the server already
    percent-decoded it (an ASGI scope without ``raw_path``), so it is not decoded again."""
    if not raw_path.startswith(b"/"):
        raise TargetError("the request target must be an absolute path")
    segments: list[str] = []
    parts = raw_path[1:].split(b"/")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        segment = part.decode("utf-8", "strict") if decoded else _decode_segment(part)
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in segment):
            raise TargetError("the request path contains a control character (NUL, CR, LF, ...)")
        if "\\" in segment:
            raise TargetError("the request path contains a backslash")
        if segment == ".":
            if last:
                segments.append("")  # "/a/." is "/a/"
            continue
        if segment == "..":
            if not segments:
                raise TargetError("the request path climbs above the root ('..')")
            segments.pop()
            if last:
                segments.append("")  # "/a/b/.." is "/a/"
            continue
        segments.append(segment)
    path = "/" + "/".join(segments)
    raw = ("/" + "/".join(quote(s, safe=_SEGMENT_SAFE) for s in segments)).encode("ascii")
    return Target(path, raw)


def _decode_segment(part: bytes) -> str:
    if _ENCODED_SEPARATOR.search(part):
        raise TargetError("the request path contains an encoded '/' or '\\' (%2F, %5C)")
    if _BAD_ESCAPE.search(part):
        raise TargetError("the request path contains an invalid percent-escape")
    if any(b > 0x7E or b <= 0x20 for b in part):
        raise TargetError("the request path contains a character that must be percent-encoded")
    decoded = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), part)
    try:
        return decoded.decode("utf-8", "strict")
    except UnicodeDecodeError:
        raise TargetError("the request path is not valid UTF-8 after percent-decoding") from None


@dataclass(frozen=True)
class Decision:
    verdict: str  # "allow", "block", "method" (known path, other method) or "unknown"
    allow: tuple[str, ...] = ()  # the methods the path accepts (for 405's Allow header)


def decide(method: str, path: str) -> Decision:
    """The allow-list's answer for a canonical path."""
    methods = ALLOWED.get(path)
    if methods is None and path.startswith(MODEL_INFO_PREFIX):
        model = path[len(MODEL_INFO_PREFIX):]
        if model and "/" not in model:
            methods = MODEL_INFO_METHODS
    if methods is not None:
        return Decision("allow" if method in methods else "method", methods)
    if path in BLOCKED or path.startswith(BLOCKED_PREFIXES):
        return Decision("block")
    return Decision("unknown")


def allowed(method: str, path: str) -> bool:
    return decide(method, path).verdict == "allow"
