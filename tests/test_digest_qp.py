"""Quoted-printable with placeholders (M3): any text, any value, decodes back, lines <= 76."""

from __future__ import annotations

import quopri

from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.digest.message import _join
from publisher.digest.qp import Slot, encode_text, encode_value

TOKEN = "PHabcdef012345NAMEX"
texts = st.lists(
    st.one_of(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"),
            max_size=200,
        ),
        st.sampled_from([TOKEN, " ", ".", "=", "\t", "...", "a" * 150, "é" * 40]),
    ),
    max_size=12,
).map("".join)
values = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)


@settings(max_examples=200, deadline=None)
@given(text=texts, value=values)
def test_m3_encoded_parts_decode_to_the_text_with_the_value(text: str, value: str) -> None:
    pieces = encode_text(text, {TOKEN: Slot("name", "text")})
    template = _join(pieces, ())
    data = template.fill({("name", "text"): encode_value(value.encode("utf-8"))})
    for line in data.split(b"\r\n"):
        assert len(line) <= 76, line
        assert not line.endswith((b" ", b"\t")), line
        assert not line.startswith(b"."), line
    expected = text.replace("\n", "\r\n").replace(TOKEN, value) + "\r\n"
    assert quopri.decodestring(data).decode("utf-8") == expected
