"""How every command prints records and messages, on a terminal and in CI logs.

On a terminal: a rich table whose token columns (names, versions, filenames) are never folded or
truncated; the table is made as wide as they need, and only prose columns wrap. Piped or
redirected (CI logs, `| grep`): plain lines, one record per line, columns aligned with spaces, no
box drawing and no folding at any width, like `pip list` and `uv pip list`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.text import Text

__all__ = ["Column", "print_error", "print_line", "print_table", "say", "stderr", "stdout"]

_UNBOUNDED = 1_000_000  # "as wide as the content needs" when measuring a table

# The CLI's two consoles; renderers look them up here when they print (tests swap them).
stdout = Console()
stderr = Console(stderr=True)


@dataclass(frozen=True)
class Column:
    header: str
    prose: bool = False  # free text that may wrap on a terminal; other columns never fold


def print_table(
    console: Console, columns: Sequence[Column | str], rows: Iterable[Sequence[str]]
) -> None:
    """Print `rows` under `columns`. Cells are rich markup (escape literal text); a cell with
    several lines is one value per line on a terminal and comma-separated in plain output."""
    specs = [c if isinstance(c, Column) else Column(c) for c in columns]
    cells = [[Text.from_markup(cell) for cell in row] for row in rows]
    if console.is_terminal:
        _print_rich_table(console, specs, cells)
    else:
        _print_plain(console, specs, cells)


def _print_rich_table(console: Console, columns: Sequence[Column], rows: list[list[Text]]) -> None:
    from rich.table import Table

    table = Table()
    for column in columns:
        if column.prose:
            table.add_column(column.header, overflow="fold")
        else:
            table.add_column(column.header, no_wrap=True, overflow="ignore")
    for row in rows:
        table.add_row(*row)
    # rich shrinks a table to the console's width, truncating even no_wrap cells; print it as
    # wide as its unbreakable cells need instead (the terminal wraps the line, not the token).
    needed = Measurement.get(console, console.options.update(max_width=_UNBOUNDED), table)
    width = console.width
    try:
        console.width = max(width, needed.minimum)
        console.print(table, crop=False)
    finally:
        console.width = width


def _print_plain(console: Console, columns: Sequence[Column], rows: list[list[Text]]) -> None:
    records = [[column.header for column in columns]]
    for row in rows:
        values = [", ".join(line for line in cell.plain.split("\n") if line) for cell in row]
        records.append([value or "-" for value in values])
    widths = [max(len(record[i]) for record in records) for i in range(len(columns))]
    for record in records:
        line = "  ".join(value.ljust(widths[i]) for i, value in enumerate(record)).rstrip()
        console.print(line, markup=False, emoji=False, highlight=False, soft_wrap=True)


def print_line(console: Console, markup: str) -> None:
    """One message line (rich markup), never folded, whatever the console's width."""
    console.print(markup, highlight=False, soft_wrap=True)


def print_error(console: Console, message: str) -> None:
    """The `error: ...` line for a failure the user can act on; `message` is printed literally."""
    print_line(console, f"[bold red]error:[/] {escape(message)}")


def say(text: str, prefix: str = "") -> None:
    """A message on stderr; `text` is printed literally (rich markup only in `prefix`)."""
    stderr.print(prefix + escape(text), highlight=False, soft_wrap=True)
