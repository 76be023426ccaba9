"""Tables that never cut what users copy, and the ``--wide`` / ``--quiet`` options.

Rich shortens a cell that does not fit with an ellipsis; a slug, an address or a key cut
that way is useless to copy. Columns made with :func:`copyable_column` fold such values
onto the next line instead, and ``--wide`` draws the table at its natural width whatever
the terminal (or a pipe, which Rich treats as 80 columns) is.
"""

from __future__ import annotations

from collections.abc import Mapping

import click
from rich.console import Console
from rich.table import Table

WIDE_WIDTH = 10_000

wide_option = click.option(
    "--wide", is_flag=True, help="Print every column whole, however wide the table gets."
)
quiet_option = click.option(
    "--quiet", "-q", is_flag=True, help="Print no progress or summary; errors only."
)


def make_table(*headings: str, copyable: Mapping[str, int] | None = None) -> Table:
    """A table whose ``copyable`` columns fold long values instead of cutting them.

    ``copyable`` maps a heading to the width it keeps however narrow the terminal (so most
    values stay on one line); the minimums of one table must leave room for the others.
    """
    table = Table()
    for heading in headings:
        if copyable and heading in copyable:
            table.add_column(heading, overflow="fold", min_width=copyable[heading] or None)
        else:
            table.add_column(heading)
    return table


def print_table(table: Table, wide: bool = False) -> None:
    Console(width=WIDE_WIDTH if wide else None).print(table)
