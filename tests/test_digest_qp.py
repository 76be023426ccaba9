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
    check_encoded(text, value)


def check_encoded(text: str, value: str) -> None:
    """Lines within 76, no white space at their ends, none starting with a dot; decodes back."""
    pieces = encode_text(text, {TOKEN: Slot("name", "text")})
    template = _join(pieces, ())
    data = template.fill({("name", "text"): encode_value(value.encode("utf-8"))})
    for line in data.split(b"\r\n"):
        assert len(line) <= 76, line
        assert not line.endswith((b" ", b"\t")), line
        assert not line.startswith(b"."), line
    expected = text.replace("\n", "\r\n").replace(TOKEN, value) + "\r\n"
    assert quopri.decodestring(data).decode("utf-8") == expected


ASCII_VALUES = st.text(alphabet=st.sampled_from("ab .=~-_/:?&%"), max_size=200)


@settings(max_examples=300, deadline=None)
@given(value=ASCII_VALUES, text=st.sampled_from([TOKEN, f"x {TOKEN}", f"{TOKEN} y"]))
def test_m3_ascii_values_take_the_short_paths_and_still_decode(value: str, text: str) -> None:
    """URLs, tokens and ASCII names (spaces, "=", dots) are encoded by slicing or by a
    replace, not byte by byte: the result obeys the same rules as any value."""
    check_encoded(text, value)


def test_m3_values_of_each_short_path() -> None:
    assert encode_value(b"https://news.example.org/unsubscribe/AbC-_9") == (
        b"https://news.example.org/unsubscribe/AbC-_9"
    )
    assert encode_value(b"Hello Ann = Bob,") == b"Hello=20Ann=20=3D=20Bob,"
    assert encode_value(b".Ann") == b"=2EAnn"  # a dot never begins a line
    long = encode_value(b"x" * 70 + b" .y" * 10)
    assert all(len(line) <= 76 for line in long.split(b"\r\n"))
    assert quopri.decodestring(long) == b"x" * 70 + b" .y" * 10


def test_dot_check_sees_each_slot_wherever_it_recurs() -> None:
    """A value whose slot begins a line anywhere must not begin with a dot (SMTP would
    take the line for a doubled dot); a value within a line may; a line break and a dot
    inside any value count too."""
    tag, name = Slot("reader_tag", "text"), Slot("name", "text")
    template = _join(
        [b"To: ", name, b"\r\n\r\nlink=\r\n", tag, b"\r\nother=\r\n", tag, b"\r\n"], ()
    )
    assert template.line_starts == (tag.key,)
    assert template.dot_free({tag.key: b"~7.abc", name.key: b".Ann"})
    assert not template.dot_free({tag.key: b".7", name.key: b"Ann"})
    assert not template.dot_free({tag.key: b"~7", name.key: b"Ann\r\n.x"})
    assert not template.dot_free({tag.key: b"~7\r\n.x", name.key: b"Ann"})
