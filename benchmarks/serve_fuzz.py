"""schemathesis against `mmkp serve` over loopback: every check but one, a bounded number of
generated requests per operation (valid and invalid), then the server's own access log read
back for 5xx answers.

    .venv/bin/python benchmarks/serve_fuzz.py --model runs/demo/mm-mkp/model [--examples 200]

`positive_data_acceptance` is left out: it expects every schema-valid request to succeed, but
the API refuses some by design beyond what a schema can say (text with no words after
normalisation, base64 that is not an image), with a documented 4xx.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--examples", type=int, default=200, help="per operation and phase")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=8741)
    args = parser.parse_args()
    url = f"http://127.0.0.1:{args.port}"
    log = Path(tempfile.mkdtemp()) / "server.log"
    command = [str(BIN / "mmkp"), "serve", "--model", args.model, "--port", str(args.port),
               "--threads", "1", "--log-level", "warning"]  # fmt: skip
    print(f"load average before: {os.getloadavg()}", file=sys.stderr)
    with log.open("w") as sink:
        server = subprocess.Popen(command, stderr=sink)
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            fuzz = [str(BIN / "schemathesis"), "run", f"{url}/openapi.json", "-c", "all",
                    "--exclude-checks", "positive_data_acceptance", "-n", str(args.examples),
                    "--seed", str(args.seed), "--request-timeout", "60",
                    "--continue-on-failure"]  # fmt: skip
            start = time.perf_counter()
            result = subprocess.run(fuzz, capture_output=True, text=True, timeout=1800)
            seconds = time.perf_counter() - start
        finally:
            server.terminate()
            server.wait(60)
    summary = result.stdout[result.stdout.rfind("SUMMARY") :]
    print(summary.strip())
    found = [line.strip() for line in result.stdout.splitlines()
             if line.startswith(("___", "- ST")) or "Invalid component" in line]  # fmt: skip
    print("\n".join(["", "failures, by operation:", *found]) if found else "no failures")
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    statuses = Counter(line["status"] for line in lines)
    print(f"\nschemathesis exit {result.returncode} in {seconds:.0f} s; the server answered "
          f"{len(lines)} requests: {dict(sorted(statuses.items()))}; 5xx: "
          f"{sum(n for s, n in statuses.items() if s >= 500)}")  # fmt: skip
    print(f"load average after: {os.getloadavg()}", file=sys.stderr)


if __name__ == "__main__":
    main()
