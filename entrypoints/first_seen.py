"""The first item of an imported file to give each id (event id, statement id), kept on disk as
the file is read."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from types import TracebackType

#: SQLite's page cache, in KiB (negative: a size, not a page count): what the ids cost in memory
CACHE_KIB = 8192
#: what `earlier` is given and answers: (place, id, what is compared), (place, what is compared)
Row = tuple[int, str, tuple[object, ...]]
First = tuple[int, tuple[object, ...]]


class FirstSeen:
    """Ids, each with the place (line) of the item that first gave it and its `columns` (what a
    later item under that id is compared with), in a private SQLite file deleted on close (an
    empty name): an import of tens of millions of items checks each reused id against the first
    item to give it without holding them all, in a few MB of page cache."""

    def __init__(self, columns: Sequence[str] = ()) -> None:
        self.db = sqlite3.connect("", isolation_level=None)
        for pragma in (f"cache_size = -{CACHE_KIB}", "journal_mode = OFF", "synchronous = OFF"):
            self.db.execute(f"PRAGMA {pragma}")
        named = "".join(f", {column} TEXT" for column in columns)
        self.db.execute(
            f"CREATE TABLE seen (id TEXT PRIMARY KEY, line INTEGER{named}) WITHOUT ROWID"
        )
        self.insert = f"INSERT INTO seen VALUES (?, ?{', ?' * len(columns)})"

    def __enter__(self) -> FirstSeen:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.db.close()

    def earlier(self, rows: Sequence[Row]) -> list[First | None]:
        """For each (place, id, columns) of `rows`, in file order, the (place, columns) that first
        gave its id (in an earlier call, or earlier in `rows`), None for a first; records the
        firsts."""
        ids = json.dumps(list({id_: None for _, id_, _ in rows}))
        first: dict[str, First] = {
            found[0]: (found[1], tuple(found[2:]))
            for found in self.db.execute(
                "SELECT * FROM seen WHERE id IN (SELECT value FROM json_each(?))", (ids,)
            )
        }
        answer: list[First | None] = []
        new = []
        for place, id_, columns in rows:
            answer.append(first.get(id_))
            if answer[-1] is None:
                first[id_] = (place, columns)
                new.append((id_, place, *columns))
        self.db.executemany(self.insert, new)
        return answer
