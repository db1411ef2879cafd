"""Readers for the public datasets: MovieLens-100K and Canvas Network (CNPC)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from application.evaluation.dataset import Dataset, DatasetError
from application.ports import DatasetSource
from domain.model import Course, CourseId, EventType, Interaction, Level, UserId


def _require(directory: Path, *names: str) -> None:
    missing = [n for n in names if not (directory / n).is_file()]
    if missing:
        raise DatasetError(f"{directory} is missing {', '.join(missing)}")


def _text(directory: Path, name: str, encoding: str = "utf-8") -> str:
    """The file's text, or a DatasetError saying why it cannot be read (a traceback would not)."""
    try:
        return (directory / name).read_text(encoding=encoding)
    except UnicodeDecodeError:
        raise DatasetError(f"{name} is not {encoding.upper()} text") from None
    except OSError as error:
        raise DatasetError(f"{directory / name} cannot be read: {error.strerror}") from None


class MovieLensSource(DatasetSource):
    """u.data (user, item, rating, timestamp) and u.item (title, genres); every rating is a positive."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def load(self) -> Dataset:
        _require(self.directory, "u.data", "u.item", "u.genre")
        genres = [
            line.split("|")[0]
            for line in _text(self.directory, "u.genre", "latin-1").splitlines()
            if line.strip()
        ]
        courses = []
        lines = _text(self.directory, "u.item", "latin-1").splitlines()
        for number, line in enumerate(lines, start=1):
            fields = line.split("|")
            if not line.strip():
                continue
            if len(fields) < 5 + len(genres):  # (its genres would be read short, or shifted)
                raise DatasetError(
                    f"u.item line {number} has {len(fields)} fields, not {5 + len(genres)}"
                )
            flags = [
                g
                for g, flag in zip(genres, fields[5 : 5 + len(genres)], strict=True)
                if flag == "1"
            ]
            courses.append(
                Course(
                    course_id=CourseId(fields[0]),
                    title=fields[1],
                    description=f"{fields[1]} released {fields[2]}",
                    category=flags[0] if flags else "unknown",
                    level=Level.BEGINNER,
                    tags=tuple(flags),
                )
            )
        interactions = []
        for number, line in enumerate(_text(self.directory, "u.data").splitlines(), start=1):
            try:
                user, item, _rating, stamp = line.split("\t")
                moment = datetime.fromtimestamp(int(stamp), UTC)
            except ValueError:
                raise DatasetError(
                    f"u.data line {number} is not 'user<TAB>item<TAB>rating<TAB>time'"
                ) from None
            interactions.append(
                Interaction(
                    f"ml-{user}-{item}", UserId(user), CourseId(item), EventType.ENROLL, moment
                )
            )
        if not interactions:  # "imported 1682 courses and 0 events" would pass for a success
            raise DatasetError("u.data holds no ratings")
        return Dataset("ml-100k", courses, interactions)


class CnpcSource(DatasetSource):
    """Canvas Network person-course enrolments with the authors' fixed train/test split.

    The files carry no timestamps; line order stands in for time (the test lines after every
    training line). Within a learner the lines are in the order taken, which the temporal and
    leave-last-out protocols and two_tower's "next" objective rely on.
    """

    TRAIN = "train_valid_data_cnpc_v2.json"
    TEST = "test_data_cnpc_v2.json"
    COURSES = "cnpc_course_info_v3.json"

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def load(self) -> Dataset:
        _require(self.directory, self.TRAIN, self.TEST, self.COURSES)
        courses = []
        for number, row in self._rows(self.COURSES):
            course, discipline, days = _fields(
                self.COURSES, number, row, "course_idx2", "discipline", "course_length"
            )
            try:
                weeks = max(1, round(int(days) / 7))  # type: ignore[call-overload]
            except (TypeError, ValueError):
                raise DatasetError(
                    f"{self.COURSES} line {number}: course_length {days!r} is not a number of days"
                ) from None
            length = "short" if weeks <= 4 else "medium" if weeks <= 10 else "long"
            courses.append(
                Course(
                    course_id=CourseId(str(course)),
                    title=f"{discipline} course {course}",
                    description=f"A {weeks}-week open course in {discipline}",
                    category=str(discipline),
                    tags=(str(discipline), f"{length}-course"),
                )
            )
        start = datetime(2014, 1, 1, tzinfo=UTC)
        train = self._events(self.TRAIN, start, "train")
        test = self._events(self.TEST, start + timedelta(seconds=len(train)), "test")
        return Dataset("cnpc", courses, train, test)

    def _rows(self, name: str) -> list[tuple[int, dict[str, object]]]:
        """(line number, object) of each line that is not blank; a line that is no JSON object
        is a DatasetError naming it (a traceback would not say which file or line)."""
        text = _text(self.directory, name)
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise DatasetError(f"{name} line {number} is not JSON") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{name} line {number} is not a JSON object")
            rows.append((number, row))
        return rows

    def _events(self, name: str, start: datetime, part: str) -> list[Interaction]:
        events = []
        for i, (number, row) in enumerate(self._rows(name)):
            user, item = _fields(name, number, row, "user", "item")
            events.append(
                Interaction(
                    f"cnpc-{part}-{i}",
                    UserId(str(user)),
                    CourseId(str(item)),
                    EventType.ENROLL,
                    start + timedelta(seconds=i),
                )
            )
        return events


def _fields(name: str, number: int, row: dict[str, object], *keys: str) -> list[object]:
    """The values of `keys` in a row of `name`; a key missing is a DatasetError naming the line."""
    missing = [key for key in keys if key not in row]
    if missing:
        raise DatasetError(f"{name} line {number} has no {', '.join(missing)}")
    return [row[key] for key in keys]
