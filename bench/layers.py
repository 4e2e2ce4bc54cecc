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
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.load import Request
from bench.runner import LOAD_CPUS, Bench, machine, parse_args, write_result
from bench.scenarios import (
    APOLLO_READINGS,
    HIVE_READINGS,
    READINGS_PAGE,
    Scenario,
    Target,
    graphql_body,
)

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
"""``p50_ms``, ``cpu_ms`` (the answering process's CPU per request), ``rps`` and
``upstream_calls`` (of one operation, counted at the emulators)."""


def ladder(bench: Bench, token: str, *, peers: bool) -> Scenario:
    """The requests, each one layer more than the one before (a target's description says
    what it adds), and the peers' pass-throughs."""
    gateway = f"http://127.0.0.1:{bench.ports.gateway}"
    plain = {"Content-Type": "application/json"}
    signed = {**plain, "Authorization": f"Bearer {token}"}

    def ours(name: str, adds: str, query: str, expect: str, account: bool = True) -> Target:
        body = graphql_body(query, ACCOUNT if account else None)
        request = Request(f"{gateway}/graphql", "POST", body, signed, expect=expect)
        return Target(name, "lkk-run", request, adds)

    metering = bench.emulator_config.metering_url
    direct = Request(f"{metering}/meters/100006/readings?limit=10", expect='"items"')
    typename = graphql_body("{ __typename }")
    targets = [
        Target("direct", None, direct, "the upstream alone"),
        Target("http", "lkk-run", Request(f"{gateway}/healthz"), "uvicorn, middleware, a route"),
        Target(
            "graphql",
            "lkk-run",
            Request(f"{gateway}/graphql", "POST", typename, plain, '"data"'),
            "the GraphQL-over-HTTP pipeline",
        ),
        ours("session", "the session", "{ me { login } }", '"login"', account=False),
        ours("account", "the account's ownership and cached meters", METERS, '"meters"'),
        ours("call", "the metering call", TOTAL, '"totalCount"'),
        ours("page", "the 10 readings completed", READINGS_PAGE, '"edges"'),
    ]
    peer_requests = (
        ("apollo", f"http://127.0.0.1:{bench.ports.apollo}/", APOLLO_READINGS, "Apollo Server"),
        ("hive", f"http://127.0.0.1:{bench.ports.hive}/graphql", HIVE_READINGS, "Hive Gateway"),
    )
    for name, url, query, label in peer_requests:
        if peers and name not in bench.unavailable:
            request = Request(url, "POST", graphql_body(query), plain, '"total":')
            targets.append(Target(name, name, request, f"{label}'s pass-through"))
    return Scenario("layers", "The pass-through at one client, layer by layer", tuple(targets))


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


def measure(bench: Bench, scenario: Scenario, target: Target) -> Figures:
    """p50 latency, the answering process's CPU per request and the upstream calls of one
    operation, one connection (:meth:`Bench.measure`)."""
    run = bench.measure(scenario, target, 1)
    if run.load.error_count:
        raise RuntimeError(f"{target.name}: {run.load.errors} {run.load.error_sample[:300]}")
    cpu_seconds = run.usage.cpu_seconds if run.usage is not None else 0.0
    return {
        "p50_ms": run.load.latency_ms["p50"],
        "cpu_ms": 1000 * cpu_seconds / max(run.load.requests, 1),
        "rps": run.load.rps,
        "upstream_calls": sum(run.calls_per_operation.values()),
    }


def summary(
    layers: Sequence[Target], modes: tuple[str, ...], rounds: list[dict[str, dict[str, Figures]]]
) -> str:
    """A markdown table of the medians over the rounds, and the latency each pass-through
    adds over ``direct``."""

    def median(mode: str, name: str, key: str) -> float:
        return statistics.median(r[mode][name][key] for r in rounds)

    head = " | ".join(f"p50 {m} (ms) | CPU/req {m} (ms) | step {m} (ms)" for m in modes)
    lines = [
        f"| request | adds | upstream calls | {head} |",
        "|---|---|---:|" + "---:|" * (3 * len(modes)),
    ]
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
        calls = median(modes[0], layer.name, "upstream_calls")
        lines.append(f"| `{layer.name}` | {layer.description} | {calls:g} | {' | '.join(cells)} |")
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
    runner_args = ["--port-base", str(args.port_base), "--duration", str(args.duration)]
    runner_args += ["--warmup", "2"] + (["--no-peers"] if args.no_peers else [])
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
        scenario = ladder(bench, token, peers=not args.no_peers)
        for number in range(1, args.rounds + 1):
            figures: dict[str, dict[str, Figures]] = {mode: {} for mode in modes}
            for mode in modes if number % 2 else modes[::-1]:  # alternate which goes first
                with polling(mode):
                    for layer in scenario.targets:
                        figures[mode][layer.name] = measure(bench, scenario, layer)
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
    table = summary(scenario.targets, modes, rounds)
    logger.info("\n%s", table)
    result = {
        "scenario": "layers",
        "title": scenario.title,
        "modes": {
            "halt": "the machine as it is",
            "poll": f"guest_halt_poll_ns={POLL_NS} while measuring",
        },
        "poll_unavailable": why_not,
        "layers": [{"name": x.name, "adds": x.description} for x in scenario.targets],
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
