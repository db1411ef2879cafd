"""What reading an LRS export costs `recsys import-xapi`: seconds and peak memory of reading N
statements as a JSON array and as JSON lines (entrypoints.cli.xapi_passes.read_statements, by
the API's rules, one at a time: each of import-xapi's two reads), beside the baseline of holding
the export whole (its text read and parsed at once by orjson, the fastest whole read, without the
rules). Each run is its own process, so its peak memory (VmHWM) is its own ("nothing read": the
modules read_statements needs, which every run but the baseline loads); runs alternate and the
medians count.

    nice -n 10 .venv/bin/python -m benchmarks.xapi_read [--statements 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.xapi_ingest import write_files

#: one run: prints "seconds max_rss_mb statements"
RUN = """
import sys, time
from pathlib import Path
how, path = sys.argv[1], Path(sys.argv[2])
started = time.perf_counter()
if how == "whole":
    import orjson
    n = len(orjson.loads(path.read_text(encoding="utf-8-sig")))
elif how == "nothing":
    from entrypoints.cli.xapi_passes import read_statements
    n = 0
else:
    from entrypoints.cli.xapi_passes import read_statements
    n = sum(1 for _ in read_statements(path, path))
seconds = time.perf_counter() - started
# VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork and exec
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(seconds, int(peak.split()[1]) / 1024, n)
"""


def run(how: str, path: Path) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", RUN, how, str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--statements", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _, _, lines = write_files(args.statements, folder)
        array = folder / "statements.json"
        with lines.open() as source, array.open("w") as target:
            target.write("[\n" + ",\n".join(line.rstrip("\n") for line in source) + "\n]\n")
        cases = {"whole (orjson)": ("whole", array), "array": ("read", array)}
        cases |= {"lines": ("read", lines), "nothing read": ("nothing", array)}
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for _ in range(args.repeat):
            for name, (how, path) in cases.items():
                runs[name].append(run(how, path))
        size = array.stat().st_size / 2**20
        print(f"{args.statements:,} statements ({size:.0f} MB as a JSON array), medians:")
        base = [statistics.median(x) for x in zip(*runs["whole (orjson)"], strict=True)]
        for name, measured in runs.items():
            seconds, peak = (statistics.median(x) for x in zip(*measured, strict=True))
            print(
                f"  {name:15s} {seconds:6.2f} s ({seconds / base[0]:.2f}x the whole read), "
                f"peak memory {peak:5.0f} MB ({peak / base[1]:.2f}x)"
            )
        print(json.dumps({n: runs[n] for n in runs}))


if __name__ == "__main__":
    main()
