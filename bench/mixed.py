"""Reads beside writes: store reads on every request while submissions write.

``python -m bench.mixed`` starts the emulators and our gateway (as ``python -m bench`` does)
with the session cache and the response cache off, so that every ``{ me { login } }`` reads
the customer's session from the store. It then drives submissions (8 connections, a new
idempotency key each) and, one second later, the reads (2 connections) at the same time, in
``--rounds`` rounds. On SQLite the submissions' writes take turns (docs/architecture.md,
"Store"): the question is whether the reads wait behind them. Writes
``<out>/<date>-mixed.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from bench.load import LoadResult, Request, run_wrk
from bench.runner import LOAD_CPUS, Bench, machine, parse_args, write_result
from bench.scenarios import SUBMIT, graphql_body

logger = logging.getLogger("bench")

READ = "{ me { login } }"


def _figures(result: LoadResult) -> dict[str, Any]:
    return {
        "connections": result.connections,
        "rps": result.rps,
        "latency_ms": result.latency_ms,
        "errors": result.error_count,
    }


def _write(bench: Bench, submit: Request, duration: float, into: list[LoadResult]) -> None:
    """The submissions: two seconds longer than the reads, which start a second later."""
    into.append(
        run_wrk(submit, connections=8, duration=duration + 2, workdir=bench.work, cpus=LOAD_CPUS)
    )


def main(argv: list[str] | None = None) -> int:
    """Measure the reads and the submissions side by side; write the JSON file."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    parser = argparse.ArgumentParser(prog="python -m bench.mixed", description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of reads")
    parser.add_argument("--port-base", type=int, default=18400)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    bench = Bench(parse_args(["--no-peers", "--port-base", str(args.port_base)]))
    bench.gateway_env["LKK_SESSION_CACHE_SECONDS"] = "0"
    bench.gateway_env["LKK_RESPONSE_CACHE_SECONDS"] = "0"
    with contextlib.suppress(OSError):  # the load stays off the gateway's core
        os.sched_setaffinity(0, {int(LOAD_CPUS)})
    rounds: list[dict[str, Any]] = []
    try:
        bench.start_emulators()
        bench.define_servers()
        token = bench.sign_in()
        url = f"http://127.0.0.1:{bench.ports.gateway}/graphql"
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        read = Request(url, "POST", graphql_body(READ), headers, expect='"login"')
        value = {"zone": "SINGLE", "value": bench.reading_value()}
        submit = Request(
            url,
            "POST",
            graphql_body(
                SUBMIT,
                {"input": {"meterId": "100006", "values": [value], "idempotencyKey": "mix-{{n}}"}},
            ),
            headers,
            expect='"status":"ACCEPTED"',
        )
        for number in range(1, args.rounds + 1):
            writes: list[LoadResult] = []
            writer = threading.Thread(target=_write, args=(bench, submit, args.duration, writes))
            writer.start()
            time.sleep(1)
            reads = run_wrk(
                read, connections=2, duration=args.duration, workdir=bench.work, cpus=LOAD_CPUS
            )
            writer.join()
            rounds.append({"reads": _figures(reads), "submissions": _figures(writes[0])})
            logger.info(
                "round %d: reads %.0f rps p50 %.1f p99 %.1f ms; submissions %.0f rps p99 %.1f ms",
                number,
                reads.rps,
                reads.latency_ms["p50"],
                reads.latency_ms["p99"],
                writes[0].rps,
                writes[0].latency_ms["p99"],
            )
    finally:
        bench.stop_all()
    result = {
        "scenario": "mixed",
        "title": "Store reads on every request beside a submission load",
        "reads": f"{READ} with LKK_SESSION_CACHE_SECONDS=0, 2 connections",
        "submissions": "submitReadings of meter 100006, 8 connections",
        "rounds": rounds,
        "machine": machine(),
    }
    write_result(args.out, "mixed", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
