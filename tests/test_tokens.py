"""Signed link tokens: the compact format written now, the itsdangerous one still read.

Rules pinned here: a token verifies only for its purpose and its key (or a former key
listed as a fallback); any change to it is refused; links already mailed in the earlier
format keep working; expired confirm links are refused in both formats; a token is short
and URL-safe (it travels in List-Unsubscribe headers and mailto subjects).
"""

from __future__ import annotations

import base64
import hmac
import re
import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from publisher.digest import message_id_for, message_ids
from publisher.engagement import ReaderTag
from publisher.exceptions import TokenError
from publisher.tokens import (
    MAX_AGE,
    KeyedMac,
    Purpose,
    ShortSigner,
    TokenSigner,
    address_tag,
    base36,
    read_verp_token,
    short_signature,
    verp_token,
    verp_tokens,
)

KEY = "current-secret-key-0123456789abcdef"
OLD = "former-secret-key-0123456789abcdef"


def legacy(key: str, purpose: Purpose, payload: list[object]) -> str:
    """A token as the product wrote them before the compact format (itsdangerous)."""
    return str(URLSafeTimedSerializer(key, salt=f"publisher.{purpose.value}").dumps(payload))


@pytest.mark.parametrize("purpose", list(Purpose))
@pytest.mark.parametrize("subscriber_id", [1, 123_456, 2**32 - 1, 2**32, 2**50])
def test_compact_tokens_round_trip_per_purpose(purpose: Purpose, subscriber_id: int) -> None:
    signer = TokenSigner(KEY)
    token = signer.make(purpose, subscriber_id, "Reader@Example.org")
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,38}", token)
    assert signer.read(purpose, token) == (subscriber_id, address_tag("reader@example.org"))
    for other in set(Purpose) - {purpose}:
        with pytest.raises(TokenError):
            signer.read(other, token)
    with pytest.raises(TokenError):
        TokenSigner("another-key-0123456789abcdef0123").read(purpose, token)


def test_every_change_to_a_token_is_refused() -> None:
    signer = TokenSigner(KEY)
    token = signer.make(Purpose.UNSUBSCRIBE, 42, "a@example.org", generation="0a1b2c3d")
    assert signer.read_claims(Purpose.UNSUBSCRIBE, token) == (
        42,
        address_tag("a@example.org"),
        "0a1b2c3d",
    )
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for at in range(len(token)):
        for char in alphabet[::7]:
            changed = token[:at] + char + token[at + 1 :]
            if changed == token:
                continue
            try:
                read = signer.read(Purpose.UNSUBSCRIBE, changed)
            except TokenError:
                continue
            # The last character carries padding bits only: same bytes, same claims.
            assert at == len(token) - 1 and read == (42, address_tag("a@example.org"))
    for broken in (token[:-1], token[:10], "", "not-a-token", token + "AAAA"):
        with pytest.raises(TokenError):
            signer.read(Purpose.UNSUBSCRIBE, broken)


def test_links_mailed_in_the_earlier_format_still_work() -> None:
    signer = TokenSigner(KEY, fallbacks=[OLD])
    tag = address_tag("a@example.org")
    assert signer.read(Purpose.UNSUBSCRIBE, legacy(KEY, Purpose.UNSUBSCRIBE, [7, tag])) == (7, tag)
    assert signer.read(Purpose.UNSUBSCRIBE, legacy(OLD, Purpose.UNSUBSCRIBE, [7, tag])) == (7, tag)
    confirm = legacy(KEY, Purpose.CONFIRM, [7, tag, "0a1b2c3d"])
    assert signer.read_claims(Purpose.CONFIRM, confirm) == (7, tag, "0a1b2c3d")
    with pytest.raises(TokenError):
        signer.read(Purpose.PREFERENCES, legacy(KEY, Purpose.UNSUBSCRIBE, [7, tag]))
    with pytest.raises(TokenError):
        TokenSigner(KEY).read(Purpose.UNSUBSCRIBE, legacy(OLD, Purpose.UNSUBSCRIBE, [7, tag]))


def test_former_keys_verify_compact_tokens_and_new_ones_use_the_current_key() -> None:
    before = TokenSigner(OLD).make(Purpose.PREFERENCES, 9, "a@example.org")
    rotated = TokenSigner(KEY, fallbacks=[OLD])
    assert rotated.read(Purpose.PREFERENCES, before)[0] == 9
    after = rotated.make(Purpose.PREFERENCES, 9, "a@example.org")
    assert TokenSigner(KEY).read(Purpose.PREFERENCES, after)[0] == 9
    with pytest.raises(TokenError):
        TokenSigner(OLD).read(Purpose.PREFERENCES, after)


def test_confirm_links_expire_and_unsubscribe_links_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signer = TokenSigner(KEY)
    confirm = signer.make(Purpose.CONFIRM, 3, "a@example.org")
    unsubscribe = signer.make(Purpose.UNSUBSCRIBE, 3, "a@example.org")
    limit = MAX_AGE[Purpose.CONFIRM]
    assert limit is not None
    later = time.time() + limit + 60
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(TokenError, match="expired"):
        signer.read(Purpose.CONFIRM, confirm)
    assert signer.read(Purpose.UNSUBSCRIBE, unsubscribe)[0] == 3


def test_make_each_gives_the_tokens_make_would() -> None:
    signer = TokenSigner(KEY)
    purposes = (Purpose.UNSUBSCRIBE, Purpose.PREFERENCES)
    pair = signer.make_each(purposes, 5, "a@example.org")
    assert [signer.read(p, t)[0] for p, t in zip(purposes, pair, strict=True)] == [5, 5]
    assert pair[0] != pair[1]


# --- the per-send fast paths give exactly what the one-off functions gave ----------------------
# Tokens and ids already mailed must keep working and a resend must carry the same
# Message-ID, so the values below were made by the functions before they were sped up
# (per-edition HMAC states, table lookups) and are pinned byte for byte.

MAILED_UNSUBSCRIBE = "AWsMVBQyqcUAAAAqlOJHrL84-PLZzdff"  # subscriber 42, Reader@Example.org
MAILED_WIDE = "AmsMVBTha_4AAAEAAAAABb41NYqmch8b_ovImg"  # subscriber 2**40 + 5, a@example.org


def test_compact_tokens_mailed_before_still_verify() -> None:
    signer = TokenSigner(KEY)
    assert signer.read(Purpose.UNSUBSCRIBE, MAILED_UNSUBSCRIBE) == (
        42,
        address_tag("reader@example.org"),
    )
    assert signer.read(Purpose.UNSUBSCRIBE, MAILED_WIDE) == (
        2**40 + 5,
        address_tag("a@example.org"),
    )


@pytest.mark.parametrize("subscriber_id", [7, 2**32 - 1, 2**32, 2**63])
def test_compact_token_layout_and_mac_as_documented(subscriber_id: int) -> None:
    """The written format, checked with the standard library alone: version, issued,
    address tag, id, then 12 bytes of HMAC-SHA256 under the purpose's derived key."""
    before = int(time.time())
    token = TokenSigner(KEY).make(Purpose.PREFERENCES, subscriber_id, " A@Example.org ")
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    wide = subscriber_id >= 2**32
    body, mac = raw[:-12], raw[-12:]
    assert body[0] == (2 if wide else 1)
    assert before <= int.from_bytes(body[1:5], "big") <= time.time()
    assert body[5:8].hex() == address_tag("a@example.org")
    assert int.from_bytes(body[8:], "big") == subscriber_id and len(body) == (16 if wide else 12)
    key = hmac.digest(KEY.encode(), b"publisher.token.preferences", "sha256")
    assert mac == hmac.digest(key, body, "sha256")[:12]


@pytest.mark.parametrize("key_size", [0, 1, 32, 64, 65, 200])
def test_keyed_mac_is_hmac_sha256(key_size: int) -> None:
    key = bytes(range(256))[:key_size]
    for prefix, message in ((b"", b""), (b"", b"abc"), (b"salt\x00head.", b"tail" * 40)):
        expected = hmac.digest(key, prefix + message, "sha256")
        assert KeyedMac(key, prefix).digest(message) == expected


def test_verp_tokens_reader_tags_and_message_ids_are_those_mailed_before() -> None:
    assert verp_token(KEY, "digest", 123, 456789) == "d3f.9sgl.jriximpt2dql"
    assert verp_tokens(KEY, "digest", 123)(456789) == "d3f.9sgl.jriximpt2dql"
    assert verp_token(KEY, "confirm", 0, 13) == "c0.d.o3wxxqhucm4r"
    assert read_verp_token(KEY, "d3f.9sgl.jriximpt2dql") == ("digest", 123, 456789)
    assert short_signature(b"k", b"salt", "body") == "k2nxzjl76pjd"
    assert ShortSigner(b"k", b"salt", "bo").sign("dy") == "k2nxzjl76pjd"
    assert ReaderTag(KEY).make(7, 123456) == "~2n9c.kqldvcusjmcm"
    expected = "<daily-2026-11-27.42.e210eeecc4c3@news.example.org>"
    assert message_id_for("daily/2026-11-27", 42, "News.Example.org") == expected
    assert message_ids("daily/2026-11-27", "News.Example.org")(42) == expected
    with pytest.raises(TokenError):
        verp_tokens(KEY, "digest", 1)(-1)


def test_base36_two_digits_a_step() -> None:
    def one_digit_a_step(number: int) -> str:
        text = ""
        while True:
            number, rest = divmod(number, 36)
            text = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + text
            if not number:
                return text

    numbers = [*range(3000), *(36**k + d for k in range(1, 13) for d in (-1, 0, 1)), 2**64 - 1]
    for number in numbers:
        assert base36(number) == one_digit_a_step(number)
