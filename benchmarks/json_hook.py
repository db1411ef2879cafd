"""What refusing a key given twice costs a request body: json.loads of a batch of 1,000 events
with and without the hook the API parses bodies with (entrypoints.json_rules.refuse_repeated_keys).

    .venv/bin/python -m benchmarks.json_hook [--events 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import timeit

from entrypoints.json_rules import refuse_repeated_keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    event = {
        "user_id": "user1",
        "course_id": "course_python_basic",
        "event_type": "click",
        "occurred_at": "2026-11-29T10:00:00Z",
        "recommendation_id": None,
    }
    body = json.dumps({"events": [event | {"event_id": f"e{i}"} for i in range(args.events)]})
    runs: dict[str, list[float]] = {"plain": [], "hook": []}
    for _ in range(args.rounds):  # alternated, best of 5 x 20 each time
        for name, hook in (("plain", None), ("hook", refuse_repeated_keys)):
            best = min(
                timeit.repeat(
                    lambda h=hook: json.loads(body, object_pairs_hook=h), number=20, repeat=5
                )
            )
            runs[name].append(best / 20 * 1000)
    for name, times in runs.items():
        print(f"{name:>5}: {statistics.median(times):.2f} ms a body of {args.events} events")
    print(
        f"hook / plain: {statistics.median(runs['hook']) / statistics.median(runs['plain']):.2f}x"
    )


if __name__ == "__main__":
    main()
