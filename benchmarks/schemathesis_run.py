"""The long schemathesis run: the real gunicorn server on demo data, every operation fuzzed with
a fixed seed; prints schemathesis' summary (cases, 5xx, schema violations).

    python -m benchmarks.schemathesis_run [--cases 1000] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.live_server import Server, recsys

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1000, help="examples per operation")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--learners", type=int, default=300)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="recsys-fuzz-"))
    env = {
        **os.environ,
        "RS_DATABASE_URL": f"sqlite:///{folder / 'recsys.db'}",
        "RS_MODELS_DIR": str(folder / "models"),
        "RS_REFRESH_SECONDS": "5",
    }
    recsys("init-db", env=env)
    recsys("demo-data", "--learners", str(args.learners), env=env)
    server = Server(env, folder)
    try:
        server.wait_ready()
        command = [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{server.url}/openapi.json",
            "--seed",
            str(args.seed),
            "--max-examples",
            str(args.cases),
            "--checks",
            CHECKS,
            # A reindex trains two_tower in the background: a thousand of them measure nothing.
            "--exclude-path",
            "/admin/recommendations/reindex",
            "--workers",
            "2",
        ]
        print("$", " ".join(command), flush=True)
        return subprocess.run(command, env=env, cwd=folder).returncode  # its cache stays there
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
