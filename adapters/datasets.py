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


class MovieLensSource(DatasetSource):
    """u.data (user, item, rating, timestamp) and u.item (title, genres); every rating is a positive."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def load(self) -> Dataset:
        _require(self.directory, "u.data", "u.item", "u.genre")
        genres = [
            line.split("|")[0]
            for line in (self.directory / "u.genre").read_text(encoding="latin-1").splitlines()
            if line.strip()
        ]
        courses = []
        for line in (self.directory / "u.item").read_text(encoding="latin-1").splitlines():
            fields = line.split("|")
            if len(fields) < 5 + len(genres):
                continue
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
        for number, line in enumerate(
            (self.directory / "u.data").read_text().splitlines(), start=1
        ):
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
        for row in self._rows(self.COURSES):
            weeks = max(1, round(int(row["course_length"]) / 7))
            length = "short" if weeks <= 4 else "medium" if weeks <= 10 else "long"
            courses.append(
                Course(
                    course_id=CourseId(str(row["course_idx2"])),
                    title=f"{row['discipline']} course {row['course_idx2']}",
                    description=f"A {weeks}-week open course in {row['discipline']}",
                    category=str(row["discipline"]),
                    tags=(str(row["discipline"]), f"{length}-course"),
                )
            )
        start = datetime(2014, 1, 1, tzinfo=UTC)
        train = self._events(self.TRAIN, start, "train")
        test = self._events(self.TEST, start + timedelta(seconds=len(train)), "test")
        return Dataset("cnpc", courses, train, test)

    def _rows(self, name: str) -> list[dict[str, object]]:
        rows = []
        for number, line in enumerate((self.directory / name).read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise DatasetError(f"{name} line {number} is not JSON") from None
        return rows

    def _events(self, name: str, start: datetime, part: str) -> list[Interaction]:
        events = []
        for i, row in enumerate(self._rows(name)):
            user, item = str(row["user"]), str(row["item"])
            events.append(
                Interaction(
                    f"cnpc-{part}-{i}",
                    UserId(user),
                    CourseId(item),
                    EventType.ENROLL,
                    start + timedelta(seconds=i),
                )
            )
        return events
