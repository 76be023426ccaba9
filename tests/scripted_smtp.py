"""A bare SMTP server on loopback that misbehaves on cue, for faults aiosmtpd cannot play.

aiosmtpd always reads a message to its end. Some faults happen in the middle of the data:
a server that stops reading a body (a hung relay, a full disk), or one that closes the
connection right after its 354. ``ScriptedServer(script)`` answers the n-th DATA (from 1,
over all connections) as ``script(n)`` says:

- ``"ok"``: read to the final dot, accept (250);
- ``"stall"``: answer 354, then never read again (until the server closes);
- ``"close"``: answer 354, then close the connection.

A message whose connection closes before its dot is not accepted (RFC 5321 3.8): only
messages read to their dot and answered 250 are in ``accepted``.
"""

from __future__ import annotations

import io
import re
import socket
import threading
from collections.abc import Callable

_RCPT = re.compile(rb"^RCPT TO:<([^>]*)>", re.IGNORECASE)


class ScriptedServer:
    def __init__(self, script: Callable[[int], str]) -> None:
        self.script = script
        self.accepted: list[str] = []  # the recipient of each accepted message
        self.datas = 0
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        recipient = ""
        try:
            conn.sendall(b"220 scripted ESMTP\r\n")
            while line := reader.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250-scripted\r\n250 8BITMIME\r\n")
                elif verb == b"RCPT":
                    found = _RCPT.match(line)
                    recipient = found.group(1).decode() if found else ""
                    conn.sendall(b"250 2.1.5 ok\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 2.0.0 bye\r\n")
                    return
                elif verb == b"DATA":
                    with self.lock:
                        self.datas += 1
                        cue = self.script(self.datas)
                    conn.sendall(b"354 go on\r\n")
                    if cue == "stall":
                        self._stop.wait(60)
                        return
                    if cue == "close" or not self._read_to_dot(reader):
                        return  # closed before the dot: nothing accepted
                    with self.lock:
                        self.accepted.append(recipient)
                    conn.sendall(b"250 2.0.0 queued\r\n")
                else:  # MAIL, RSET, NOOP
                    conn.sendall(b"250 2.0.0 ok\r\n")
        except OSError:
            return
        finally:
            reader.close()
            conn.close()

    @staticmethod
    def _read_to_dot(reader: io.BufferedReader) -> bool:
        while line := reader.readline():
            if line == b".\r\n":
                return True
        return False
