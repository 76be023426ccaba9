"""DKIM signing (RFC 6376) with OpenSSL, naming every header we rely on (B5).

Signing happens per recipient (each message has its own To, Message-ID and links), so it is
on the hot path of a send. dkimpy does the RSA arithmetic in Python integers and
canonicalises line by line; here the RSA signature comes from OpenSSL through
``cryptography`` and the relaxed canonicalisation is done with a few byte operations over
the whole body. An RSA-2048 signature is about 0.3 ms of CPU: on the SMTP event loop the
signatures are made by a child process (:meth:`DkimSigner.deferred`,
``delivery/build_ahead.py``); the threads of other transports' lanes sign here, in parallel,
since ``cryptography`` 47 signs with the interpreter lock released. dkimpy stays the
verifier in the tests, so the two implementations check each other.

Headers signed: dkimpy's default list leaves ``List-Unsubscribe-Post`` and ``Feedback-ID``
out of ``h=``; a receiver then cannot trust the one-click unsubscribe header, and Gmail and
Yahoo want it signed. We name our list ourselves, after every header is final.

With an Ed25519 key as well, a second signature (``a=ed25519-sha256``, RFC 8463) is added
beside the RSA one: receivers that know Ed25519 get a short, fast signature, the others
still verify the RSA one.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import itertools
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm

from publisher import signing_keys
from publisher.digest.message import MessageTemplate
from publisher.exceptions import ConfigError
from publisher.signing_keys import SigningKey

SIGNED_HEADERS: tuple[str, ...] = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Reply-To",
    "List-Id",
    "List-Archive",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Feedback-ID",
    "Precedence",
    "Auto-Submitted",
)

_WSP_TO_SQUEEZE = re.compile(rb" [ \t]+|\t[ \t]*")  # only runs and tabs: single spaces stay
_WSP_BEFORE_CRLF = re.compile(rb"[ \t]+\r\n")
_FOLD = re.compile(rb"\r\n(?=[ \t])")
B64_LINE = 72  # characters of the b= value per folded line


def aligned(from_domain: str, dkim_domain: str) -> bool:
    """DMARC relaxed alignment: the From domain is the d= domain or below it."""
    sender = from_domain.lower().rstrip(".")
    signer = dkim_domain.lower().rstrip(".")
    return sender == signer or sender.endswith("." + signer)


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 3.4.4: runs of WSP become one SP, WSP at line ends and empty lines at the
    end go, and a non-empty body ends with one CRLF.

    The regular expressions run only when a cheap ``in`` test finds something for them.
    """
    body = _squeeze(body)
    # Empty lines at the end go; a last line without CRLF keeps its WSP, as in dkimpy and
    # OpenDKIM (our MIME bodies always end in CRLF, so the case does not arise in mail).
    body = body.rstrip(b"\r\n")
    return body + b"\r\n" if body else b""


def relaxed_header(name: bytes, value: bytes) -> bytes:
    """RFC 6376 3.4.2: lower-case name, unfolded value with WSP runs as one SP, trimmed."""
    value = _WSP_TO_SQUEEZE.sub(b" ", _FOLD.sub(b"", value).replace(b"\t", b" ")).strip(b" \r\n")
    return name.strip().lower() + b":" + value


def split_message(message: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """(name, raw value) of each header in order, and the body (after the empty line)."""
    head, sep, body = message.partition(b"\r\n\r\n")
    if not sep:
        head, body = message, b""
    headers: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + b"\r\n" + line)
        else:
            name, _, value = line.partition(b":")
            headers.append((name, value))
    return headers, body


def _plain(value: bytes) -> bool:
    """Whether a reader's value is left as it is by canonicalisation wherever it stands:
    no tab, no run of spaces, no space at either end or before a line break, and no line
    break first (a space ending the text before it would then end a line)."""
    return bool(value) and not (
        b"\t" in value
        or b"  " in value
        or b" \r\n" in value
        or value[:1] == b" "
        or value[-1:] == b" "
        or value[:2] == b"\r\n"
    )


class BodyHasher:
    """The relaxed body hash of every message made from one :class:`MessageTemplate`.

    The body is the same for every reader but for a few slots (links, the greeting), so the
    fixed chunks are canonicalised once, and each reader's hash is the SHA-256 of the
    canonical chunks with that reader's values between them, continued from the hash state
    of everything before the first slot. Values that canonicalisation would change (see
    :func:`_plain`) fall back to canonicalising the whole body.
    """

    def __init__(self, template: MessageTemplate) -> None:
        chunks, slots = template.chunks, template.slots
        first = next(i for i, c in enumerate(chunks) if b"\r\n\r\n" in c)
        body_chunks = [chunks[first].split(b"\r\n\r\n", 1)[1], *chunks[first + 1 :]]
        self._slots = slots[first:]
        last = body_chunks[-1]
        # The end rule (no empty lines at the end, one CRLF) needs text after the last slot.
        self._usable = bool(self._slots) and bool(last.strip(b" \t\r\n"))
        canonical = [_squeeze(c) for c in body_chunks[:-1]] + [relaxed_body(last)]
        self._start = hashlib.sha256(canonical[0])
        self._rest = canonical[1:]

    def digest(self, values: Mapping[tuple[str, str], bytes], body: Callable[[], bytes]) -> bytes:
        """The body hash for one reader; ``body`` gives the whole body for the slow path."""
        chosen = [values[slot] for slot in self._slots]
        if not self._usable or not all(_plain(v) for v in chosen):
            return hashlib.sha256(relaxed_body(body())).digest()
        hasher = self._start.copy()
        # One update, not two per slot: each update of more than 2 kB lets go of the
        # interpreter lock and must take it back, a wait while other threads run.
        hasher.update(b"".join(itertools.chain.from_iterable(zip(chosen, self._rest, strict=True))))
        return hasher.digest()


def _squeeze(chunk: bytes) -> bytes:
    """Relaxed canonicalisation inside a chunk (runs of WSP, WSP before CRLF); the end of
    the body is not in it, so trailing empty lines stay."""
    if b"\t" in chunk or b"  " in chunk:
        chunk = _WSP_TO_SQUEEZE.sub(b" ", chunk)
    if b" \r\n" in chunk:
        chunk = _WSP_BEFORE_CRLF.sub(b"\r\n", chunk)
    return chunk


def _signed_headers(
    headers: list[tuple[bytes, bytes]], names: tuple[str, ...]
) -> tuple[list[bytes], list[bytes]]:
    """The names (for ``h=``) and canonical forms of the named headers present; of a header
    that occurs more than once, the last instance is taken first (RFC 6376 5.4.2)."""
    remaining: dict[bytes, list[bytes]] = {}
    for name, value in headers:
        remaining.setdefault(name.strip().lower(), []).append(value)
    present: list[bytes] = []
    canonical: list[bytes] = []
    for key in _keys_of(names):
        values = remaining.get(key)
        if values:
            present.append(key)
            canonical.append(_canonical_line(key, values.pop()))
    return present, canonical


@functools.cache
def _keys_of(names: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(name.lower().encode("ascii") for name in names)


@functools.lru_cache(maxsize=1024)
def _canonical_line(key: bytes, value: bytes) -> bytes:
    """A signed header's canonical line, remembered: most of them (From, Subject, List-Id,
    Content-Type ...) are the same in every message of an edition, so each is worked out
    once; the readers' own (To, Message-ID, List-Unsubscribe) come and go in the cache."""
    return relaxed_header(key, value) + b"\r\n"


@dataclass(frozen=True)
class _Key:
    """One signing key and the algorithm it is used with."""

    selector: str
    algorithm: str  # rsa-sha256 or ed25519-sha256
    pem: bytes = field(repr=False)
    key: SigningKey = field(repr=False)


@dataclass(frozen=True)
class Unsigned:
    """What one signature of a message still needs: which key, the header's tags up to
    ``b=``, and the canonical data that key signs (see :meth:`DkimSigner.deferred`)."""

    key: int  # index into the signer's keys (DkimSigner.key_specs)
    tags: bytes
    data: bytes


_deferral = threading.local()


@dataclass(frozen=True)
class DkimSigner:
    """Signs finished messages; made once at start-up by :func:`load_signer`."""

    selector: str
    domain: str
    private_key: bytes = field(repr=False)
    ed25519_selector: str = ""
    ed25519_key: bytes = field(default=b"", repr=False)
    _keys: tuple[_Key, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pem = self.private_key
        keys = [_Key(self.selector, "rsa-sha256", pem, signing_keys.load_rsa(pem))]
        if self.ed25519_key:
            ed = self.ed25519_key
            keys.append(
                _Key(self.ed25519_selector, "ed25519-sha256", ed, signing_keys.load_ed25519(ed))
            )
        object.__setattr__(self, "_keys", tuple(keys))

    @property
    def key_specs(self) -> tuple[tuple[str, bytes], ...]:
        """(algorithm, PEM) per key, in signature order: for a process that signs for us."""
        return tuple((k.algorithm, k.pem) for k in self._keys)

    @staticmethod
    def complete(
        message: bytes, unsigned: Sequence[Unsigned], signatures: Sequence[bytes]
    ) -> bytes:
        """A message signed in :meth:`deferred` mode, with its signatures' headers."""
        return with_signatures(message, unsigned, signatures)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[list[Unsigned]]:
        """Messages signed on this thread inside the block come back without their
        DKIM-Signature headers, and what each signature needs is added to the list
        yielded; :meth:`complete` then adds the headers, given the signatures.

        Why: an RSA-2048 signature is ~0.3 ms of CPU. A sender that hands the data to
        another process (``delivery/signing_process.py``) signs on another core without
        sharing the interpreter lock with threads of its own.
        """
        pending: list[Unsigned] = []
        _deferral.pending = pending
        try:
            yield pending
        finally:
            _deferral.pending = None

    def sign(
        self,
        message: bytes,
        header_names: tuple[str, ...] = SIGNED_HEADERS,
        body_digest: bytes | None = None,
    ) -> bytes:
        """The message with its DKIM-Signature header(s) in front.

        ``body_digest`` is the SHA-256 of the canonical body when the caller knows it (a
        :class:`BodyHasher` does); otherwise the body is canonicalised here.
        """
        headers, body = split_message(message)
        if body_digest is None:
            body_digest = hashlib.sha256(relaxed_body(body)).digest()
        body_hash = base64.b64encode(body_digest)
        present, canonical = _signed_headers(headers, header_names)
        h_tag, signed = b":".join(present), b"".join(canonical)
        unsigned = [self._unsigned(n, h_tag, body_hash, signed) for n in range(len(self._keys))]
        pending: list[Unsigned] | None = getattr(_deferral, "pending", None)
        if pending is not None:
            pending.extend(unsigned)
            return message
        signatures = [signing_keys.sign(self._keys[u.key].key, u.data) for u in unsigned]
        return with_signatures(message, unsigned, signatures)

    def _unsigned(self, index: int, h_tag: bytes, body_hash: bytes, canonical: bytes) -> Unsigned:
        key = self._keys[index]
        tags = (
            b"v=1; a=" + key.algorithm.encode("ascii") + b"; c=relaxed/relaxed; d="
            + self.domain.encode("ascii") + b"; s=" + key.selector.encode("ascii")
            + b";\r\n\th=" + h_tag + b";\r\n\tbh=" + body_hash + b";\r\n\tb="
        )  # fmt: skip
        return Unsigned(index, tags, canonical + relaxed_header(b"dkim-signature", tags))


def with_signatures(
    message: bytes, unsigned: Sequence[Unsigned], signatures: Sequence[bytes]
) -> bytes:
    """The message with a DKIM-Signature header (folded, CRLF-ended) per signature in front."""
    headers = []
    for part, signature in zip(unsigned, signatures, strict=True):
        encoded = base64.b64encode(signature)
        folded = b"\r\n\t".join(encoded[i : i + B64_LINE] for i in range(0, len(encoded), B64_LINE))
        headers.append(b"DKIM-Signature: " + part.tags + folded + b"\r\n")
    return b"".join(headers) + message


def _read_key(path: str | Path, setting: str, kind: str, check: Callable[[bytes], object]) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError([f"{setting}: cannot read {path}: {exc}"]) from exc
    try:
        check(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError([f"{setting}: {path} is not a PEM {kind} private key ({exc})"]) from exc
    return data


def _check_selector(setting: str, selector: str) -> None:
    if not selector or any(not (c.isalnum() or c in "-_.") for c in selector):
        raise ConfigError([f"{setting}: {selector!r} is not a valid selector"])


def load_signer(
    key_path: str | Path,
    selector: str,
    domain: str,
    from_address: str,
    ed25519_key_path: str | Path = "",
    ed25519_selector: str = "",
) -> DkimSigner:
    """Read and check the keys; refuse a d= domain the From address does not align with."""
    from_domain = from_address.rpartition("@")[2]
    domain = domain or from_domain
    if not aligned(from_domain, domain):
        raise ConfigError(
            [
                f"dkim.domain: {domain!r} does not align with the From domain "
                f"{from_domain!r} (digest.from_address); DMARC would fail"
            ]
        )
    _check_selector("dkim.selector", selector)
    key = _read_key(key_path, "dkim.private_key_path", "RSA", signing_keys.load_rsa)
    ed_key = b""
    if ed25519_key_path:
        _check_selector("dkim.ed25519_selector", ed25519_selector)
        if ed25519_selector == selector:
            raise ConfigError(["dkim.ed25519_selector: must differ from dkim.selector"])
        ed_key = _read_key(
            ed25519_key_path, "dkim.ed25519_key_path", "Ed25519", signing_keys.load_ed25519
        )
    return DkimSigner(selector, domain.lower(), key, ed25519_selector, ed_key)
