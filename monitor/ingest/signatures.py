"""HTTP Message Signatures (RFC 9421, hmac-sha256) on a websocket upgrade, plus replay checks.

Genesys AudioHook signs its upgrade request: ``Signature-Input`` names the covered
components (``@request-target``, ``@authority``, the ``audiohook-*`` headers, ``x-api-key``)
with ``created``, ``nonce``, ``keyid`` (= the API key) and ``alg``; ``Signature`` is the
HMAC-SHA256 of the signature base under the integration's client secret.

The RFC part (parsing the structured fields, building the signature base, the HMAC, the
created/expires checks) is the maintained ``http-message-signatures`` package; this module
adds what the RFC leaves to the application: which components must be covered, that the
``keyid`` is the API key presented, that a ``nonce`` is present and long enough, and that no
nonce is accepted twice while its signature is still fresh (:class:`NonceCache`).
"""

from __future__ import annotations

import datetime
import hmac
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from http_message_signatures import HTTPMessageVerifier, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from http_message_signatures.resolvers import HTTPSignatureKeyResolver

MIN_NONCE_CHARS = 16


class SignatureError(ValueError):
    """A request whose signature cannot be trusted; the text says why (for logs, not users)."""


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a signature covers of an HTTP request: method, URL and header lines."""

    method: str
    url: str  # absolute: scheme://authority/path?query
    headers: Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    keyid: str
    nonce: str
    created: int
    covered: tuple[str, ...]


class _Headers:
    """The ``headers`` interface the library reads: ordered (name, value) lines."""

    def __init__(self, lines: Iterable[tuple[str, str]]) -> None:
        self._lines = list(lines)

    def items(self) -> list[tuple[str, str]]:
        return list(self._lines)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter([n for n, _ in self._lines])

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n.lower() == name.lower() for n, _ in self._lines)

    def __getitem__(self, name: str) -> str:
        values = [v for n, v in self._lines if n.lower() == name.lower()]
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def __setitem__(self, name: str, value: str) -> None:  # verification never writes
        raise TypeError("read-only headers")

    def __delitem__(self, name: str) -> None:
        raise TypeError("read-only headers")


@dataclass(frozen=True, slots=True)
class _Message:
    method: str
    url: str
    headers: _Headers


class _OneKey(HTTPSignatureKeyResolver):
    def __init__(self, key_id: str, secret: bytes) -> None:
        self.key_id = key_id
        self.secret = secret

    def resolve_public_key(self, key_id: str) -> bytes | None:
        return self.secret if hmac.compare_digest(key_id, self.key_id) else None

    def resolve_private_key(self, key_id: str) -> bytes:
        raise KeyError("callmon only verifies")


def verify_hmac_sha256(
    request: SignedRequest,
    *,
    key_id: str,
    secret: bytes,
    required: Sequence[str] = (),
    max_age_s: float | None = 10.0,
) -> VerifiedSignature:
    """Verify the request's one signature under ``secret``; raises :class:`SignatureError`."""
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.HMAC_SHA256, key_resolver=_OneKey(key_id, secret)
    )
    message = _Message(request.method.upper(), request.url, _Headers(request.headers))
    max_age = None if max_age_s is None else datetime.timedelta(seconds=max_age_s)
    try:
        results = verifier.verify(message, max_age=max_age, require_components=tuple(required))
    except HTTPMessageSignaturesException as exc:
        raise SignatureError(str(exc) or type(exc).__name__) from None
    except Exception as exc:  # malformed input deep in the parser: still just "not trusted"
        raise SignatureError(f"unreadable signature ({type(exc).__name__}: {exc})") from None
    result = results[0]
    params = result.parameters
    created = params.get("created")
    return VerifiedSignature(
        keyid=str(params.get("keyid", "")),
        nonce=str(result.nonce or ""),
        created=int(created) if isinstance(created, int) else 0,
        covered=tuple(str(c) for c in result.covered_components),
    )


@dataclass(slots=True)
class NonceCache:
    """Nonces seen while their signatures were fresh; a nonce seen again is a replay.

    Entries expire after ``ttl_s`` (the signature's maximum age plus clock skew): an older
    signature is refused by its ``created`` anyway. ``max_entries`` bounds memory; when full,
    the oldest entries go first (they are the closest to expiring)."""

    ttl_s: float = 30.0
    max_entries: int = 100_000
    _seen: OrderedDict[str, float] = field(default_factory=OrderedDict)

    def add(self, nonce: str, now: float) -> bool:
        """Remember ``nonce``; False if it was already seen (a replay)."""
        while self._seen:
            oldest, expires = next(iter(self._seen.items()))
            if expires > now and len(self._seen) < self.max_entries:
                break
            del self._seen[oldest]
        if nonce in self._seen:
            return False
        self._seen[nonce] = now + self.ttl_s
        return True

    def __len__(self) -> int:
        return len(self._seen)
