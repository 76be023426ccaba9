"""Signed link tokens: the compact format written now, the itsdangerous one still read.

Rules pinned here: a token verifies only for its purpose and its key (or a former key
listed as a fallback); any change to it is refused; links already mailed in the earlier
format keep working; expired confirm links are refused in both formats; a token is short
and URL-safe (it travels in List-Unsubscribe headers and mailto subjects).
"""

from __future__ import annotations

import re
import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from publisher.exceptions import TokenError
from publisher.tokens import MAX_AGE, Purpose, TokenSigner, address_tag

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
