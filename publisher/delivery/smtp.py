"""The SMTP transport: one reused connection per sending lane, replaced when it dies.

The sender runs ``connections`` lanes, each with its own :class:`SmtpTransport`; together
they are the connection pool. A transport connects lazily, keeps the connection for every
following message (MAIL, RCPT, DATA, no reconnect, no RSET between good messages), and
translates every failure into the two errors the sender understands:

- 4xx replies, timeouts and dropped connections -> :class:`TransientDeliveryError`;
- 5xx replies -> :class:`PermanentDeliveryError`, with ``hard_bounce`` for 550/551/553 and
  enhanced status 5.1.x.

After a 421 or a connection fault the connection is dropped, and the next message opens a
new one, so a connection that dies mid-batch costs one deferred message, not the batch.
When no connection can be opened at all, :class:`ServerUnreachable` tells the sender to
pause rather than charge every row a try; a refused login stops the run (ConfigError).
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Generator
from dataclasses import dataclass

from publisher.delivery.policy import is_hard_bounce
from publisher.exceptions import (
    ConfigError,
    DeliveryError,
    PermanentDeliveryError,
    PublisherError,
    RenderError,
    ServerUnreachable,
    TransientDeliveryError,
)
from publisher.mailheaders import wire_address
from publisher.text import one_line
from publisher.types import OutgoingMessage


@dataclass(frozen=True)
class SmtpOptions:
    """Where and how to connect; plain values so the delivery package never reads config."""

    host: str = "localhost"
    port: int = 25
    security: str = "none"  # none | starttls | tls
    username: str = ""
    password: str = ""
    timeout: float = 30.0
    local_hostname: str | None = None

    def __repr__(self) -> str:  # the password never reaches logs
        return (
            f"SmtpOptions(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"username={self.username!r}, timeout={self.timeout})"
        )


def _text(reply: bytes | str) -> str:
    """A reply as one clean line: the server's text can hold anything (NUL, escapes)."""
    raw = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return one_line(raw)


def reply_error(code: int, reply: bytes | str, stage: str) -> DeliveryError:
    """The error for a refusal ``code`` at ``stage`` (MAIL FROM, RCPT TO, DATA)."""
    text = f"{code} {_text(reply)} (at {stage})"
    if 500 <= code <= 599:
        return PermanentDeliveryError(text, code, hard_bounce=is_hard_bounce(code, text))
    return TransientDeliveryError(text, code)


class SmtpTransport:
    """One SMTP connection, opened on first use and reused until it fails."""

    def __init__(self, options: SmtpOptions) -> None:
        self.options = options
        self._conn: smtplib.SMTP | None = None
        self.connects = 0

    def _open(self) -> smtplib.SMTP:
        o = self.options
        try:
            if o.security == "tls":
                context = ssl.create_default_context()
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    o.host, o.port, o.local_hostname, timeout=o.timeout, context=context
                )
            else:
                conn = smtplib.SMTP(o.host, o.port, o.local_hostname, timeout=o.timeout)
        except (smtplib.SMTPException, OSError) as exc:
            raise self._open_error(exc) from exc
        try:
            conn.ehlo()
            if o.security == "starttls":
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if o.username:
                conn.login(o.username, o.password)
        except (smtplib.SMTPException, OSError) as exc:
            conn.close()  # the socket is open: no leak when the greeting or login fails
            raise self._open_error(exc) from exc
        self.connects += 1
        return conn

    def _open_error(self, exc: Exception) -> PublisherError:
        """What a failure while connecting means to the sender."""
        o = self.options
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            # Not the reader's fault: failing their row would lose the message for good.
            # The run stops with this one line and the claimed rows go back untouched.
            return ConfigError(
                [
                    f"smtp.username/smtp.password: login refused by {o.host}:{o.port}: "
                    f"{exc.smtp_code} {_text(exc.smtp_error)}"
                ]
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            if 400 <= exc.smtp_code <= 499:  # 421 at the greeting: busy for everyone
                text = f"{exc.smtp_code} {_text(exc.smtp_error)}"
                return ServerUnreachable(
                    f"{o.host}:{o.port} refused the connection: {text}", exc.smtp_code
                )
            return reply_error(exc.smtp_code, exc.smtp_error, "connect")
        return ServerUnreachable(f"cannot connect to {o.host}:{o.port}: {exc}")

    def connection(self) -> smtplib.SMTP:
        """The open connection (opened now if there is none): for a sender that drives
        the exchange itself (``smtp_loop.py``), on a socket it makes non-blocking."""
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def exchange(self, message: OutgoingMessage) -> Exchange:
        """The exchange of ``message`` on the open connection (see :meth:`connection`)."""
        conn = self.connection()
        return Exchange(message, conn.has_extn("pipelining"), conn.has_extn("smtputf8"))

    def send(self, message: OutgoingMessage) -> str:
        reused = self._conn is not None
        try:
            return self._send(message)
        except StaleConnection as first:
            if not reused:
                raise first.final() from first
        # A pooled connection the server had closed while idle: one fresh try at once.
        try:
            return self._send(message)
        except StaleConnection as second:
            raise second.final() from second

    def _send(self, message: OutgoingMessage) -> str:
        """Drive the exchange with blocking reads and writes."""
        exchange = self.exchange(message)
        conn = self.connection()
        steps = exchange.steps()
        try:
            request = next(steps)
            while True:
                _send_parts(conn, request.parts)
                request = steps.send([conn.getreply() for _ in range(request.replies)])
        except StopIteration as done:
            return str(done.value)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.close()
            raise exchange.lost(str(exc)) from exc
        except DeliveryError:
            if exchange.closing:
                self.close()
            raise

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()

    def drop(self) -> None:
        """Close the connection without a goodbye (it failed, or its state is unknown)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


@dataclass(frozen=True)
class Write:
    """A step of an exchange: write ``parts``, then read ``replies`` replies."""

    parts: list[bytes]
    replies: int


Reply = tuple[int, bytes]
"""A reply as ``smtplib.SMTP.getreply`` gives it: the code, and the text lines joined."""


class Exchange:
    """One message's SMTP exchange, without I/O: what to write, what each reply means.

    :meth:`steps` is a generator that yields a :class:`Write` and is sent the replies it
    asked for; it returns the accepted reply or raises the :class:`DeliveryError` the
    refusal means. The blocking transport and the sender's event loop drive the same
    generator, so the rules below hold for both:

    - with PIPELINING (RFC 2920), MAIL, RCPT and DATA go in one write and three replies are
      read after; without it, one command per reply, stopping at the first refusal;
    - a refusal after DATA was accepted anyway ends the empty message with a lone dot;
    - after a refusal the connection is reset (RSET) for the next message, except after
      421 (the server is closing it): then :attr:`closing` says to drop it.

    A connection lost on the way is the driver's to see; :meth:`lost` says what that
    means at the stage reached.
    """

    def __init__(self, message: OutgoingMessage, pipelining: bool, smtputf8: bool) -> None:
        self.message = message
        self.pipelining = pipelining
        self.smtputf8 = smtputf8
        self.stage = "MAIL FROM"
        self.closing = False  # the connection must be dropped after this exchange
        self._refusal: DeliveryError | None = None  # raised even if RSET loses the line

    def steps(self) -> Generator[Write, list[Reply], str]:
        commands = _envelope(self.message, self.smtputf8)
        replies: list[Reply] = []
        if self.pipelining:
            replies = yield Write([b"".join(commands)], len(commands))
        else:
            for command in commands:
                replies += yield Write([command], 1)
                if replies[-1][0] >= 400:
                    break
        for stage, (code, reply), wanted in zip(_STAGES, replies, (250, 250, 354), strict=False):
            self.stage = stage
            if code != wanted and not (stage == "RCPT TO" and code == 251):
                if replies[-1][0] == 354:  # refused earlier, yet DATA was accepted
                    self._refusal = reply_error(code, reply, stage)  # stands if the line goes
                    yield Write([b".\r\n"], 1)
                yield from self._refused(code, reply, stage)
        self.stage = "DATA"
        ((code, reply),) = yield Write(_dot_stuffed(self.message.data, self.message.dot_free), 1)
        if code != 250:
            yield from self._refused(code, reply, "DATA")
        return f"{code} {_text(reply)}"

    def _refused(self, code: int, reply: bytes, stage: str) -> Generator[Write, list[Reply], None]:
        self._refusal = reply_error(code, reply, stage)
        if code == 421 or code < 0:
            self.closing = True
        else:
            yield Write([b"RSET\r\n"], 1)
        raise self._refusal

    def lost(self, reason: str) -> DeliveryError:
        """What a connection lost during this exchange means (the driver drops it).

        Lost at MAIL FROM, the server saw nothing of the message: on a reused connection
        (closed by the server while idle) the caller tries once more on a fresh one.
        Lost while resetting after a refusal, the refusal stands.
        """
        if self._refusal is not None:
            return self._refusal
        if self.stage == "MAIL FROM":
            return StaleConnection(reason)
        return TransientDeliveryError(f"connection lost at {self.stage}: {reason}")


_STAGES = ("MAIL FROM", "RCPT TO", "DATA")


def _address(address: str) -> bytes:
    """The envelope form (IDNA 2008 A-label domain), the same as the To header's."""
    try:
        # Only a non-ASCII local part then needs SMTPUTF8 (RFC 6531).
        return wire_address(address).encode("utf-8")
    except RenderError as exc:
        raise PermanentDeliveryError(f"refusing to send to malformed address: {exc}") from exc


def _envelope(message: OutgoingMessage, smtputf8: bool) -> list[bytes]:
    """MAIL FROM, RCPT TO and DATA as wire bytes (addresses are normalised upstream).

    Written by hand rather than through ``smtplib.SMTP.mail``/``rcpt``: those parse every
    address again with ``email.utils``, a cost paid per message for nothing.
    """
    sender, recipient = _address(message.sender), _address(message.recipient)
    utf8 = b""
    if not (sender + recipient).isascii():
        if not smtputf8:
            # Not the reader's fault and not final: another relay (or this one, upgraded)
            # can carry it. The row is deferred with this reason, never mailed elsewhere.
            raise TransientDeliveryError(
                f"{message.recipient}: the local part is not ASCII and the server does not "
                "offer SMTPUTF8; deferred until it does"
            )
        utf8 = b" SMTPUTF8"
    return [
        b"MAIL FROM:<" + sender + b">" + utf8 + b"\r\n",
        b"RCPT TO:<" + recipient + b">\r\n",
        b"DATA\r\n",
    ]


def _dot_stuffed(data: bytes, dot_free: bool = False) -> list[bytes]:
    """The message as DATA content: leading dots doubled (RFC 5321 4.5.2), CRLF, final dot.

    The search is done only when a line starts with a dot, which a digest rarely has: the
    regular expression costs more than the rest of the send for a 40 KB message. The end
    marker is a separate part, so the message bytes are never copied to append it. A
    digest knows it has no such line (``OutgoingMessage.dot_free``): no search at all.
    """
    if not dot_free and (data.startswith(b".") or b"\n." in data):
        data = _LEADING_DOT.sub(b"..", data)
    return [data, b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"]


def _send_parts(conn: smtplib.SMTP, parts: list[bytes]) -> None:
    """Write ``parts`` in one system call where the socket allows (gather write)."""
    sock = conn.sock
    if sock is None:
        raise smtplib.SMTPServerDisconnected("not connected")
    if type(sock) is not socket.socket:  # TLS sockets have no sendmsg
        sock.sendall(b"".join(parts))
        return
    written = sock.sendmsg(parts)
    if written < sum(len(part) for part in parts):
        sock.sendall(b"".join(parts)[written:])


_LEADING_DOT = re.compile(rb"(?m)^\.")


class StaleConnection(TransientDeliveryError):
    """The connection failed before the server saw this message."""

    def final(self) -> TransientDeliveryError:
        """The error to record when no fresh connection is left to try."""
        return TransientDeliveryError(f"connection lost at MAIL FROM: {self}")
