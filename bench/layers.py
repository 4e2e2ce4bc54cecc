"""Where the pass-through's latency at one client goes, layer by layer.

``python -m bench.layers`` starts the emulators and our gateway as ``python -m bench`` does
(same cores, response cache off: every request runs its operation) and measures, one
connection at a time, requests that each add one layer of the pass-through to the one
before:

- ``direct``: the readings page straight from the metering emulator (the baseline);
- ``http``: ``GET /healthz``: uvicorn, the middleware and a route, no GraphQL;
- ``graphql``: ``{ __typename }`` without a session: the GraphQL-over-HTTP pipeline;
- ``session``: ``{ me { login } }`` signed in: the session check;
- ``account``: ``account(number) { meters { id } }``: the account's ownership and its
  (cached) meters;
- ``call``: ``… readings(first: 10) { totalCount }``: the metering call;
- ``page``: the pass-through itself, the 10 readings completed.

Apollo Server's and Hive Gateway's pass-throughs are measured beside them unless
``--no-peers``.

Every request is measured twice per round: with the machine as it is (``halt``), and with
the guest kernel's halt polling on (``poll``: ``guest_halt_poll_ns`` of the ``haltpoll``
cpuidle governor set to :data:`POLL_NS` while the round runs, then put back; needs root).
On a virtual machine an idle vCPU halts, and waking it is a round trip through the
hypervisor; on this one the guest's halt polling is off (``haltpoll.guest_halt_poll_ns=0``
on the kernel command line). At one client the server's core idles twice per request (for
the upstream's answer and for the next request), so that round trip is paid in latency and
in the CPU charged to the woken process, by every target alike. With polling on, an idle
core spins up to :data:`POLL_NS` before it halts and a wake-up needs no interrupt: the
difference between the modes is the machine's, not the target's. (A spinning process at the
lowest priority does not do the same: waking a task still interrupts the core to take it
from the spinner.) Writes ``<out>/<date>-layers.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import statistics
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import Request, run_wrk
from bench.processes import UsageMeter
from bench.runner import LOAD_CPUS, Bench, machine, parse_args, write_result
from bench.scenarios import APOLLO_READINGS, HIVE_READINGS, READINGS_PAGE, graphql_body

logger = logging.getLogger("bench")

ACCOUNT = {"n": "7200000004"}
METERS = "query($n: AccountNumber!) { account(number: $n) { meters { id } } }"
TOTAL = (
    "query($n: AccountNumber!) { account(number: $n) { meters { id readings(first: 10) "
    "{ totalCount } } } }"
)
HALT_POLL = Path("/sys/module/haltpoll/parameters/guest_halt_poll_ns")
POLL_NS = 2_000_000
"""Longer than the upstream takes to answer (~0.5 ms here) and than the gap between two
requests, so that neither wait ends in a halt."""
PEERS = ("apollo", "hive")

Figures = dict[str, float]
"""``p50_ms``, ``cpu_ms`` (the answering process's CPU per request) and ``rps``."""


@dataclass(frozen=True)
class Layer:
    """One request of the ladder and what it adds to the one before."""

    name: str
    adds: str
    request: Request
    server: str | None  # the bench's server that answers it; None: the metering emulator


def ladder(bench: Bench, token: str, *, peers: bool) -> list[Layer]:
    """The requests, each one layer more than the one before."""
    gateway = f"http://127.0.0.1:{bench.ports.gateway}"
    plain = {"Content-Type": "application/json"}
    signed = {**plain, "Authorization": f"Bearer {token}"}

    def ours(query: str, variables: dict[str, Any] | None, expect: str) -> Request:
        body = graphql_body(query, variables)
        return Request(f"{gateway}/graphql", "POST", body, signed, expect=expect)

    metering = bench.emulator_config.metering_url
    layers = [
        Layer(
            "direct",
            "the upstream alone",
            Request(f"{metering}/meters/100006/readings?limit=10", expect='"items"'),
            None,
        ),
        Layer("http", "uvicorn, middleware, a route", Request(f"{gateway}/healthz"), "lkk-run"),
        Layer(
            "graphql",
            "the GraphQL-over-HTTP pipeline",
            Request(f"{gateway}/graphql", "POST", graphql_body("{ __typename }"), plain, '"data"'),
            "lkk-run",
        ),
        Layer("session", "the session", ours("{ me { login } }", None, '"login"'), "lkk-run"),
        Layer(
            "account",
            "the account's ownership and cached meters",
            ours(METERS, ACCOUNT, '"meters"'),
            "lkk-run",
        ),
        Layer("call", "the metering call", ours(TOTAL, ACCOUNT, '"totalCount"'), "lkk-run"),
        Layer(
            "page", "the 10 readings completed", ours(READINGS_PAGE, ACCOUNT, '"edges"'), "lkk-run"
        ),
    ]
    peer_requests = (
        ("apollo", f"http://127.0.0.1:{bench.ports.apollo}/", APOLLO_READINGS, "Apollo Server"),
        ("hive", f"http://127.0.0.1:{bench.ports.hive}/graphql", HIVE_READINGS, "Hive Gateway"),
    )
    for name, url, query, label in peer_requests:
        if peers and name not in bench.unavailable:
            request = Request(url, "POST", graphql_body(query), plain, '"total":')
            layers.append(Layer(name, f"{label}'s pass-through", request, name))
    return layers


def can_poll() -> str | None:
    """Why the ``poll`` mode cannot run here; None when it can."""
    if not HALT_POLL.exists():
        return f"{HALT_POLL} does not exist (no haltpoll cpuidle governor)"
    if not os.access(HALT_POLL, os.W_OK):
        return f"{HALT_POLL} is not writable (run as root)"
    return None


@contextlib.contextmanager
def polling(mode: str) -> Iterator[None]:
    """The guest's halt polling on while the block runs in the ``poll`` mode."""
    if mode != "poll":
        yield
        return
    before = HALT_POLL.read_text().strip()
    HALT_POLL.write_text(str(POLL_NS))
    try:
        yield
    finally:
        HALT_POLL.write_text(before)


def measure(bench: Bench, layer: Layer, duration: float) -> Figures:
    """p50 latency and the answering process's CPU per request, one connection."""
    pid = bench.use(layer.server).pid if layer.server is not None else bench.emulators[0].pid
    run_wrk(layer.request, connections=1, duration=2, workdir=bench.work, cpus=LOAD_CPUS)
    with UsageMeter(pid) as meter:
        load = run_wrk(
            layer.request, connections=1, duration=duration, workdir=bench.work, cpus=LOAD_CPUS
        )
    if load.error_count:
        raise RuntimeError(f"{layer.name}: {load.errors} {load.error_sample[:300]}")
    cpu_ms = 1000 * meter.usage().cpu_seconds / max(load.requests, 1)
    return {"p50_ms": load.latency_ms["p50"], "cpu_ms": cpu_ms, "rps": load.rps}


def summary(
    layers: list[Layer], modes: tuple[str, ...], rounds: list[dict[str, dict[str, Figures]]]
) -> str:
    """A markdown table of the medians over the rounds, and the latency each pass-through
    adds over ``direct``."""

    def median(mode: str, name: str, key: str) -> float:
        return statistics.median(r[mode][name][key] for r in rounds)

    head = " | ".join(f"p50 {m} (ms) | CPU/req {m} (ms) | step {m} (ms)" for m in modes)
    lines = [f"| request | adds | {head} |", "|---|---|" + "---:|" * (3 * len(modes))]
    before: dict[str, float] = {}
    for layer in layers:
        cells = []
        for mode in modes:
            p50 = median(mode, layer.name, "p50_ms")
            step = ""
            if mode in before and layer.name not in PEERS:
                step = f"{p50 - before[mode]:+.2f}"
            if layer.name not in ("direct", *PEERS):
                before[mode] = p50
            cells.append(f"{p50:.2f} | {median(mode, layer.name, 'cpu_ms'):.2f} | {step}")
        lines.append(f"| `{layer.name}` | {layer.adds} | {' | '.join(cells)} |")
    lines.append("")
    for name in ("page", *PEERS):
        if any(layer.name == name for layer in layers):
            added = ", ".join(
                f"{median(m, name, 'p50_ms') - median(m, 'direct', 'p50_ms'):.2f} ms ({m})"
                for m in modes
            )
            lines.append(f"- added over `direct` by `{name}`: {added}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure the ladder in each mode, round after round; write the JSON file."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    parser = argparse.ArgumentParser(prog="python -m bench.layers", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per measured run")
    parser.add_argument("--port-base", type=int, default=18600)
    parser.add_argument("--no-peers", action="store_true", help="leave the peers out")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    runner_args = ["--port-base", str(args.port_base)] + (["--no-peers"] if args.no_peers else [])
    bench = Bench(parse_args(runner_args))
    # A stop by signal still puts the machine's halt polling back (the ``finally`` below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    why_not = can_poll()
    modes = ("halt",) if why_not else ("halt", "poll")
    if why_not:
        logger.warning("measuring as the machine is only: %s", why_not)
    with contextlib.suppress(OSError):  # the runner stays off the measured core
        os.sched_setaffinity(0, {int(LOAD_CPUS)})
    rounds: list[dict[str, dict[str, Figures]]] = []
    try:
        bench.start_emulators()
        bench.prepare_peers()
        bench.define_servers()
        token = bench.sign_in()
        layers = ladder(bench, token, peers=not args.no_peers)
        for number in range(1, args.rounds + 1):
            figures: dict[str, dict[str, Figures]] = {mode: {} for mode in modes}
            for mode in modes if number % 2 else modes[::-1]:  # alternate which goes first
                with polling(mode):
                    for layer in layers:
                        figures[mode][layer.name] = measure(bench, layer, args.duration)
                        logger.info(
                            "round %d %s %s: %s",
                            number,
                            mode,
                            layer.name,
                            figures[mode][layer.name],
                        )
            rounds.append(figures)
    finally:
        bench.stop_all()
    table = summary(layers, modes, rounds)
    logger.info("\n%s", table)
    result = {
        "scenario": "layers",
        "title": "The pass-through at one client, layer by layer",
        "modes": {
            "halt": "the machine as it is",
            "poll": f"guest_halt_poll_ns={POLL_NS} while measuring",
        },
        "poll_unavailable": why_not,
        "layers": [{"name": x.name, "adds": x.adds} for x in layers],
        "rounds": rounds,
        "summary_markdown": table,
        "kernel_cmdline": Path("/proc/cmdline").read_text().strip()[:400],
        "unavailable": bench.unavailable,
        "machine": machine(),
    }
    write_result(args.out, "layers", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
