"""Reading subscriber CSV files: whole-file checks and per-row reasons, without a database."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.exceptions import SubscriberError
from publisher.subscribers import CsvRow, RejectedRow, export_row, read_rows
from publisher.types import Frequency, Subscriber


def rows(data: bytes) -> list[CsvRow | RejectedRow]:
    return list(read_rows(io.BufferedReader(io.BytesIO(data)), "list.csv"))


def test_bom_header_case_and_optional_columns() -> None:
    [row] = rows(
        b"\xef\xbb\xbfEmail,Name,Frequency,Categories,status\nAnn@Example.org,Ann,WEEKLY,Sport;local,x\n"
    )
    assert row == CsvRow(2, "ann@example.org", "Ann", Frequency.WEEKLY, ("sport", "local"))


def test_missing_optional_cells_mean_defaults() -> None:
    [row] = rows(b"email\nbo@example.org\n")
    assert row == CsvRow(2, "bo@example.org", "", None, None)


def test_quoted_newlines_keep_line_numbers_of_later_rows() -> None:
    data = b'email,name\n"a@example.org","Ann\nSecond line"\nnot-an-address,x\n'
    first, second = rows(data)
    assert isinstance(first, CsvRow) and first.name == "Ann Second line"
    assert isinstance(second, RejectedRow) and second.line == 4
    assert "not valid" in second.reason


def test_each_bad_row_gets_its_line_and_reason() -> None:
    data = (
        b"email,frequency,categories\n"
        b",daily,\n"
        b"a@example.org,hourly,\n"
        b"b@example.org,daily,bad/slug\n"
        b"c@example.org,daily,,extra\n"
        b"\n"
        b"d@example.org\r\n"
    )
    result = rows(data)
    assert [str(r) for r in result if isinstance(r, RejectedRow)] == [
        "line 2: e-mail address is empty",
        "line 3: frequency must be daily or weekly, not 'hourly'",
        "line 4: category 'bad/slug' is not a category slug",
        "line 5: 4 fields but the header names 3",
    ]
    assert [r.email for r in result if isinstance(r, CsvRow)] == ["d@example.org"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"email;name\na@example.org;Ann\n", "wrong delimiter"),
        (b"email\tname\na@example.org\tAnn\n", "wrong delimiter"),
        (b"a@example.org,Ann\nb@example.org,Bo\n", "missing header"),
        (b"name,phone\nAnn,123\n", "no 'email' column"),
        (b"email,email\na@example.org,b@example.org\n", "column named twice"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"email\n\xff\xfeabc@example.org\n", "not a UTF-8"),
    ],
)
def test_whole_file_problems_raise_one_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(SubscriberError, match=message) as caught:
        rows(data)
    assert str(caught.value).startswith("list.csv")


def test_bad_encoding_further_in_stops_with_the_line() -> None:
    data = b"email\n" + b"ok@example.org\n" * 2000 + b"bad\xff@example.org\n"
    reader = read_rows(io.BufferedReader(io.BytesIO(data)), "big.csv")
    good = 0
    with pytest.raises(SubscriberError, match=r"big.csv:2002: not UTF-8"):
        for row in reader:
            good += isinstance(row, CsvRow)
    assert good == 2000  # the line of the bad bytes, not where the decoder's chunk began


def test_export_guards_formulas_and_import_undoes_it() -> None:
    sub = Subscriber(id=1, email="x@example.org", name='=HYPERLINK("http://evil")')
    cells = export_row(sub)
    assert cells[1].startswith("'=")
    out = io.StringIO()
    import csv

    csv.writer(out).writerows([["email", "name"], cells[:2]])
    [row] = rows(out.getvalue().encode())
    assert isinstance(row, CsvRow) and row.name == sub.name


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600) | st.text(max_size=300).map(lambda t: ("email,name\n" + t).encode()))
def test_any_bytes_give_rows_or_one_clear_error(data: bytes) -> None:
    try:
        result = rows(data)
    except SubscriberError as exc:
        assert str(exc).startswith("list.csv")
        return
    for row in result:
        assert row.line >= 2
        if isinstance(row, CsvRow):
            assert "\n" not in row.name and "\r" not in row.email
