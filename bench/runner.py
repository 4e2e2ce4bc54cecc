"""``make bench``: every scenario against our gateway, the upstream and the peers, one run.

Layout on this 2-core machine: the system under test (our gateway, Hive Gateway or Apollo
Server — one at a time) is pinned to core 0; wrk and the emulators share core 1. Each target
gets a warm-up, then a measured run of ``--duration`` seconds per concurrency; the emulators'
call counters are reset between the two, so "upstream calls per operation" counts only the
measured operations. Results: ``bench/results/<date>-<scenario>.json`` and ``.png``, and
``<date>-summary.md`` with the issue's targets judged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench import report
from bench.emulators import config_json
from bench.load import LoadResult, Request, run_wrk, wrk_available
from bench.processes import PRIORITY, Server, Usage, UsageMeter
from bench.scenarios import Endpoints, Scenario, Target, all_scenarios, graphql_body
from emulators.config import EmulatorConfig

logger = logging.getLogger("bench")

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PEERS = BENCH / "peers"
PYTHON = Path(sys.executable)
SUT_CPUS = "0"
LOAD_CPUS = "1"
UTILITY_TZ = ZoneInfo("Asia/Yekaterinburg")


@dataclass
class Ports:
    """Where each process listens (away from the demo's default ports)."""

    base: int = 18000

    @property
    def gateway(self) -> int:
        """Our gateway (every variant; one runs at a time)."""
        return self.base

    @property
    def hive(self) -> int:
        """Hive Gateway."""
        return self.base + 201

    @property
    def apollo(self) -> int:
        """Apollo Server."""
        return self.base + 202

    def emulators(self) -> EmulatorConfig:
        """The emulators' config: memory state, no maintenance window, no faults."""
        return EmulatorConfig(
            billing_port=self.base + 101,
            metering_port=self.base + 102,
            acquirer_port=self.base + 103,
            sms_port=self.base + 104,
            mail_http_port=self.base + 105,
            smtp_port=self.base + 25,
            maintenance_window="",
            webhook_url=f"http://127.0.0.1:{self.gateway}/webhooks/acquirer",
        )


@dataclass
class Run:
    """One measured run of one target at one concurrency."""

    connections: int
    load: LoadResult
    usage: Usage | None
    emulators_cpu_seconds: float
    upstream_calls: dict[str, dict[str, int]]
    calls_per_operation: dict[str, float]
    """Upstream calls of one operation by kind, from sequential requests (exact)."""

    def as_json(self) -> dict[str, Any]:
        """The run as written to the results."""
        requests = max(self.load.requests, 1)
        calls_total = sum(sum(ops.values()) for ops in self.upstream_calls.values())
        out: dict[str, Any] = {
            "connections": self.connections,
            "requests": self.load.requests,
            "duration_s": self.load.duration_s,
            "rps": self.load.rps,
            "latency_ms": self.load.latency_ms,
            "errors": self.load.error_count,
            "error_detail": self.load.errors,
            "error_sample": self.load.error_sample,
            "upstream_calls": {
                "per_operation": round(sum(self.calls_per_operation.values()), 3),
                "by_kind": self.calls_per_operation,
                "under_load_total": calls_total,
                "under_load_per_request": round(calls_total / requests, 3),
                "under_load_by_kind": {
                    f"{system}.{op}": {"count": n, "per_operation": round(n / requests, 3)}
                    for system, ops in self.upstream_calls.items()
                    for op, n in sorted(ops.items())
                },
            },
        }
        if self.usage is not None:
            out["process"] = {
                "cpu_seconds": round(self.usage.cpu_seconds, 3),
                "cpu_ms_per_request": round(1000 * self.usage.cpu_seconds / requests, 3),
                "cpu_share_of_one_core": round(self.usage.cpu_seconds / self.load.duration_s, 3)
                if self.load.duration_s
                else 0.0,
                "rss_mib_peak": round(self.usage.rss_mib_peak, 1),
                "rss_mib_end": round(self.usage.rss_mib_end, 1),
            }
            out["machine_busy_share"] = round(self.usage.machine_busy_share, 3)
        out["emulators_cpu_seconds"] = round(self.emulators_cpu_seconds, 3)
        return out


@dataclass
class TargetResult:
    """Every run of one target of a scenario."""

    target: Target
    measured: list[Run] = field(default_factory=list)
    """Every run, in the order measured (rounds of all the concurrencies)."""
    unavailable: str = ""

    @property
    def runs(self) -> list[Run]:
        """One run per concurrency: the median run by RPS over the rounds (each reported row
        is one real run, not a mix of several)."""
        by_level: dict[int, list[Run]] = {}
        for run in self.measured:
            by_level.setdefault(run.connections, []).append(run)
        return [
            sorted(runs, key=lambda r: r.load.rps)[(len(runs) - 1) // 2]
            for _, runs in sorted(by_level.items())
        ]

    def as_json(self) -> dict[str, Any]:
        """The target as written to the results."""
        request = self.target.request
        return {
            "name": self.target.name,
            "server": self.target.server or "upstream",
            "description": self.target.description,
            "request": {"method": request.method, "url": request.url, "body": request.body},
            "faults": {k: dict(v) for k, v in self.target.faults.items()},
            "unavailable": self.unavailable or None,
            "runs": [run.as_json() for run in self.runs],
            "rounds": [run.as_json() for run in self.measured],
        }


class Bench:
    """Starts what the scenarios need and measures them."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.ports = Ports(args.port_base)
        self.work = BENCH / ".work" / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        self.work.mkdir(parents=True, exist_ok=True)
        self.emulator_config = self.ports.emulators()
        self.emulators: list[Server] = []
        self.servers: dict[str, Server] = {}
        self.running: Server | None = None
        self.unavailable: dict[str, str] = {}
        self.notes: list[str] = []
        self.gateway_env = self._gateway_env()
        self.token = ""

    # -- processes -------------------------------------------------------------------------

    def _gateway_env(self) -> dict[str, str]:
        c = self.emulator_config
        env = {
            "LKK_ENVIRONMENT": "demo",
            "LKK_HOST": "127.0.0.1",
            "LKK_PORT": str(self.ports.gateway),
            "LKK_WORKERS": str(self.args.workers),
            "LKK_DATA_DIR": str(self.work / "gateway"),
            "LKK_LOG_LEVEL": "WARNING",
            "LKK_EMULATOR_HOST": c.host,
            "LKK_BILLING_PORT": str(c.billing_port),
            "LKK_METERING_PORT": str(c.metering_port),
            "LKK_ACQUIRER_PORT": str(c.acquirer_port),
            "LKK_SMS_PORT": str(c.sms_port),
            "LKK_MAIL_HTTP_PORT": str(c.mail_http_port),
            "LKK_SMTP_PORT": str(c.smtp_port),
            # One customer sends every request of the run: their hourly cost budget (a rate
            # limit, RATE_LIMITED) would end it within seconds. The check itself still runs.
            "LKK_HOURLY_COST_BUDGET": str(10**12),
            # Scenario (6) opens 200 WebSockets from one address within seconds.
            "LKK_WS_CONNECTIONS_PER_MINUTE": "100000",
        }
        self.notes.append(
            "LKK_HOURLY_COST_BUDGET is raised to 10^12 for the run: one customer sends every "
            "request, and the default 100 000 units an hour would rate-limit them in seconds "
            "(the budget is still checked and charged on every request). "
            "LKK_WS_CONNECTIONS_PER_MINUTE is raised to 100 000: the subscription scenario "
            "opens 200 WebSockets from one address."
        )
        today = dt.datetime.now(UTILITY_TZ).date()
        if not 1 <= today.day <= 25:
            # MTR-2: readings are taken on the 1st-25th; outside it, submitReadings would only
            # measure the refusal. Open the window for the run, and say so in the results.
            env["LKK_READINGS_WINDOW_FIRST_DAY"] = "1"
            env["LKK_READINGS_WINDOW_LAST_DAY"] = "31"
            self.notes.append(
                f"Today ({today}, utility time) is outside the 1st-25th readings window: the "
                "run opened it with LKK_READINGS_WINDOW_FIRST_DAY=1 and "
                "LKK_READINGS_WINDOW_LAST_DAY=31."
            )
        return env

    def start_emulators(self) -> None:
        """Metering alone in one process (the direct baseline), the rest in another."""
        config = config_json(self.emulator_config)
        for name, systems, port in (
            ("emulator-metering", "metering", self.emulator_config.metering_port),
            ("emulator-others", "billing,acquirer,sms,mail", self.emulator_config.billing_port),
        ):
            server = Server(
                name=name,
                command=[str(PYTHON), "-m", "bench.emulators", "--systems", systems]
                + ["--config", config],
                ready_url=f"http://127.0.0.1:{port}/_admin/calls",
                log=self.work / f"{name}.log",
                cwd=ROOT,
                cpus=LOAD_CPUS,
            )
            self.emulators.append(server.start())

    def define_servers(self) -> None:
        lkk = [str(PYTHON), "-m", "gateway.cli", "serve"]
        gw_url = f"http://127.0.0.1:{self.ports.gateway}/healthz"
        self.servers = {
            "lkk": Server("lkk", lkk, gw_url, self.work / "lkk.log", self.gateway_env, ROOT),
            "lkk-run": Server(
                "lkk-run",
                lkk,
                gw_url,
                self.work / "lkk-run.log",
                {**self.gateway_env, "LKK_RESPONSE_CACHE_SECONDS": "0"},
                ROOT,
            ),
            "lkk-cold": Server(
                "lkk-cold",
                [
                    str(PYTHON),
                    "-m",
                    "uvicorn",
                    "bench.cold:create_cold_app",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.ports.gateway),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                gw_url,
                self.work / "lkk-cold.log",
                self.gateway_env,
                ROOT,
            ),
        }
        metering = self.emulator_config.metering_url
        node = shutil.which("node")
        hive_dir, apollo_dir = PEERS / "hive", PEERS / "apollo"
        if node is None:
            self.unavailable.update(hive="node is not installed", apollo="node is not installed")
            return
        hive = [node, "node_modules/.bin/hive-gateway", "supergraph", "-c", "gateway.ts"]
        hive += ["--port", str(self.ports.hive), "--host", "127.0.0.1"]
        hive_env = {"NODE_ENV": "production", "METERING_URL": metering}
        for name, extra in (("hive", {}), ("hive-cache", {"HIVE_RESPONSE_CACHE": "1"})):
            self.servers[name] = Server(
                name,
                hive,
                f"http://127.0.0.1:{self.ports.hive}/healthcheck",
                self.work / f"{name}.log",
                {**hive_env, **extra},
                hive_dir,
            )
        self.servers["apollo"] = Server(
            "apollo",
            [node, "server.mjs"],
            f"http://127.0.0.1:{self.ports.apollo}/",
            self.work / "apollo.log",
            {"NODE_ENV": "production", "METERING_URL": metering, "PORT": str(self.ports.apollo)},
            apollo_dir,
        )

    def prepare_peers(self) -> None:
        """Install the peers' npm packages (lock files are committed) and compose Hive's
        supergraph from metering's OpenAPI description."""
        if self.args.no_peers:
            for name in ("hive", "hive-cache", "apollo"):
                self.unavailable[name] = "left out of this run (--no-peers)"
            return
        npm = shutil.which("npm")
        for peer in ("hive", "apollo"):
            folder = PEERS / peer
            if (folder / "node_modules").is_dir():
                continue
            if npm is None:
                self.unavailable[peer] = "npm is not installed (apt-get install -y nodejs npm)"
                continue
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"], cwd=folder, capture_output=True, text=True
            )
            if done.returncode != 0:
                self.unavailable[peer] = f"npm ci failed: {done.stderr.strip()[-300:]}"
        if "hive" not in self.unavailable:
            compose = subprocess.run(
                [
                    shutil.which("node") or "node",
                    "node_modules/.bin/mesh-compose",
                    "-o",
                    "supergraph.graphql",
                ],
                cwd=PEERS / "hive",
                env={**os.environ, "METERING_URL": self.emulator_config.metering_url},
                capture_output=True,
                text=True,
            )
            if compose.returncode != 0:
                self.unavailable["hive"] = f"mesh-compose failed: {compose.stderr.strip()[-300:]}"
        if "hive" in self.unavailable:
            self.unavailable["hive-cache"] = self.unavailable["hive"]

    def use(self, name: str) -> Server:
        """Make ``name`` the one server running on the measured core."""
        if self.running is not None and self.running.name == name:
            return self.running
        if self.running is not None:
            self.running.stop()
            self.running = None
        server = self.servers[name]
        server.cpus = SUT_CPUS
        self.running = server.start()
        return server

    def stop_all(self) -> None:
        """Stop every process the bench started."""
        if self.running is not None:
            self.running.stop()
            self.running = None
        for server in self.emulators:
            server.stop()

    # -- the emulators' admin API ----------------------------------------------------------

    def _admin(self, system: str, method: str, path: str, body: Any = None) -> Any:
        port = getattr(self.emulator_config, f"{system}_port")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/_admin/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def reset_calls(self) -> None:
        """Zero the call counters of metering and billing."""
        for system in ("metering", "billing"):
            self._admin(system, "DELETE", "calls")

    def calls(self) -> dict[str, dict[str, int]]:
        """Calls counted at metering and billing since the last reset, per operation."""
        return {s: self._admin(s, "GET", "calls")["operations"] for s in ("metering", "billing")}

    def set_faults(self, faults: Mapping[str, Mapping[str, Any]]) -> None:
        """Turn fault knobs on at the emulators (system -> knobs)."""
        for system, knobs in faults.items():
            self._admin(system, "PUT", "faults", dict(knobs))

    def clear_faults(self, faults: Mapping[str, Mapping[str, Any]]) -> None:
        """Heal the emulators named in ``faults``."""
        for system in faults:
            self._admin(system, "DELETE", "faults")

    # -- the demo customer -----------------------------------------------------------------

    def _graphql(self, query: str, variables: dict[str, Any], token: str = "") -> Any:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ports.gateway}/graphql",
            data=graphql_body(query, variables).encode(),
            method="POST",
            headers=headers,
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def sign_in(self) -> str:
        """Sign the demo customer in and link their second account (tests' journeys)."""
        self.use("lkk")
        body = self._graphql(
            "mutation($l: String!, $p: String!) { signIn(input: {login: $l, password: $p}) "
            "{ token errors { code } } }",
            {"l": "7200000001", "p": "Demo2026!"},
        )
        token: str = body["data"]["signIn"]["token"]
        self.token = token
        linked = self._graphql(
            "mutation($n: AccountNumber!, $s: String!) { linkAccount(input: "
            "{accountNumber: $n, ownerSurname: $s}) { errors { code } } }",
            {"n": "7200000004", "s": "Иванова"},
            token,
        )
        errors = linked["data"]["linkAccount"]["errors"]
        if errors and errors[0]["code"] != "ACCOUNT_ALREADY_LINKED":
            raise RuntimeError(f"linking 7200000004 failed: {errors}")
        return token

    def reading_value(self) -> str:
        """Meter 100006's last reading + 100 kWh: accepted, under the confirmation ceiling."""
        url = f"{self.emulator_config.metering_url}/accounts/7200000004/meters"
        with urllib.request.urlopen(url, timeout=10) as answer:
            meter = json.loads(answer.read())["meters"][0]
        last = Decimal(meter["last_readings"]["T1"]["value"].replace(",", "."))
        return str(last + 100)

    # -- measuring -------------------------------------------------------------------------

    def measure(self, scenario: Scenario, target: Target, connections: int) -> Run:
        """Warm up, then one measured run."""
        server = self.use(target.server) if target.server else None
        emulator = self.emulators[0] if target.pid == "metering" else self.emulators[1]
        sut_pid = server.pid if server else emulator.pid
        request: Request = target.request
        run_wrk(
            request,
            connections=connections,
            duration=self.args.warmup,
            workdir=self.work,
            cpus=LOAD_CPUS,
        )
        if target.faults:
            self.set_faults(target.faults)
        if target.settle_seconds:
            time.sleep(target.settle_seconds)
        self.settle()  # the warm-up's last requests finish before counting starts
        self.reset_calls()
        with (
            UsageMeter(sut_pid) as meter,
            UsageMeter(self.emulators[0].pid) as metering,
            UsageMeter(self.emulators[1].pid) as others,
        ):
            load = run_wrk(
                request,
                connections=connections,
                duration=self.args.duration,
                workdir=self.work,
                cpus=LOAD_CPUS,
            )
        self.settle()  # requests still in flight when wrk stopped
        calls = self.calls()
        exact = self.calls_per_operation(request)
        if target.faults:
            self.clear_faults(target.faults)
        emulators_cpu = metering.usage().cpu_seconds + others.usage().cpu_seconds
        return Run(connections, load, meter.usage(), emulators_cpu, calls, exact)

    def settle(self, deadline: float = 30.0) -> None:
        """Wait until the upstream counters stand still: the system under test has
        finished the requests wrk left in flight (at 50 connections and a slow target,
        seconds of work)."""
        until = time.monotonic() + deadline
        last = self.calls()
        while time.monotonic() < until:
            time.sleep(0.5)
            now = self.calls()
            if now == last:
                return
            last = now

    def calls_per_operation(self, request: Request, count: int = 20) -> dict[str, float]:
        """Upstream calls of one operation, exactly: ``count`` requests one after another
        between two readings of the emulators' counters (under load, the requests still
        in flight when wrk stops would blur the count)."""
        self.reset_calls()
        for i in range(count):
            body = request.body.replace("{{n}}", f"probe-{time.monotonic_ns()}-{i}")
            sent = urllib.request.Request(
                request.url,
                data=body.encode() if body else None,
                method=request.method,
                headers=dict(request.headers),
            )
            with urllib.request.urlopen(sent, timeout=30) as answer:
                answer.read()
        return {
            f"{system}.{op}": round(n / count, 3)
            for system, ops in self.calls().items()
            for op, n in sorted(ops.items())
        }

    def run_scenario(self, scenario: Scenario) -> dict[str, Any]:
        """Every target of a scenario at every concurrency, in rounds: each round measures
        every target once, so that a machine slowing down for a minute weighs on every
        target alike rather than on whichever ran then."""
        connections = tuple(self.args.connections or scenario.connections)
        rounds = self.args.rounds or scenario.rounds
        results = [
            TargetResult(target)
            for target in scenario.targets
            if not self.args.targets or target.name in self.args.targets
        ]
        for result in results:
            if result.target.server in self.unavailable:
                result.unavailable = self.unavailable[result.target.server]
        if scenario.faults:
            self.set_faults(scenario.faults)
        try:
            for round_ in range(1, rounds + 1):
                for result in results:
                    if not result.unavailable:
                        self._measure_target(scenario, result, connections, round_, rounds)
        finally:
            if scenario.faults:
                self.clear_faults(scenario.faults)
        notes = list(scenario.notes)
        if rounds > 1:
            notes.append(
                f"{rounds} rounds, each measuring every target in turn; a row is the median "
                "round by RPS (every round is in the JSON file, under `rounds`)."
            )
        return {
            "scenario": scenario.name,
            "title": scenario.title,
            "notes": notes,
            "rounds": rounds,
            "targets": [r.as_json() for r in results],
        }

    def _measure_target(
        self,
        scenario: Scenario,
        result: TargetResult,
        connections: tuple[int, ...],
        round_: int,
        rounds: int,
    ) -> None:
        target = result.target
        for c in connections:
            logger.info(
                "%s / %s / c=%d (round %d/%d)", scenario.name, target.name, c, round_, rounds
            )
            try:
                run = self.measure(scenario, target, c)
            except Exception as exc:  # a peer that fails is reported, not fatal
                logger.exception("%s / %s failed", scenario.name, target.name)
                result.unavailable = f"{type(exc).__name__}: {exc}"
                return
            result.measured.append(run)
            logger.info("  %.0f rps, p99 %.1f ms", run.load.rps, run.load.latency_ms["p99"])

    def subscriptions(self, count: int) -> dict[str, Any]:
        """Scenario (6): ``count`` open paymentUpdated subscriptions (bench/subscriptions.py)."""
        from bench import subscriptions

        server = self.use("lkk")
        logger.info("subscriptions / lkk / %d subscribers", count)
        title = f"{count} open paymentUpdated subscriptions (WebSocket), every payment paid"
        try:
            measured = asyncio.run(
                subscriptions.run(
                    gateway=f"http://127.0.0.1:{self.ports.gateway}",
                    acquirer=self.emulator_config.acquirer_url,
                    token=self.token,
                    gateway_pid=server.pid,
                    count=count,
                )
            )
        except Exception as exc:  # reported, not fatal
            logger.exception("subscriptions failed")
            measured = {"unavailable": f"{type(exc).__name__}: {exc}"}
        logger.info("  %s", {k: v for k, v in measured.items() if "latency" in k})
        return {
            "scenario": "subscriptions",
            "title": title,
            "notes": [
                "Hive Gateway and Apollo Server have no payments here (the acquirer's webhooks "
                "come to our gateway), so this scenario has no peer.",
                "The driver (1 process, asyncio, websockets) runs on core 1 with the emulators.",
            ],
            "result": measured,
        }

    def profile(
        self, scenario: Scenario, target_name: str, out: Path, connections: int = 50
    ) -> None:
        """py-spy of our gateway under the scenario's load (an extra run, not counted)."""
        spy = shutil.which("py-spy") or str(PYTHON.parent / "py-spy")
        if not Path(spy).exists():
            self.notes.append("py-spy is not installed: no profile (pip install '.[bench]')")
            return
        target = next(t for t in scenario.targets if t.name == target_name)
        assert target.server is not None
        server = self.use(target.server)
        folded = self.work / f"profile-{scenario.name}.folded"
        duration = max(self.args.duration, 8.0)
        load = threading.Thread(
            target=run_wrk,
            args=(target.request,),
            kwargs={
                "connections": connections,
                "duration": duration + 4,
                "workdir": self.work,
                "cpus": LOAD_CPUS,
            },
        )
        load.start()
        time.sleep(2)
        subprocess.run(
            [
                spy,
                "record",
                "-p",
                str(server.pid),
                "-d",
                str(int(duration)),
                "-r",
                "200",
                "-f",
                "raw",
                "-o",
                str(folded),
            ],
            capture_output=True,
            check=False,
        )
        load.join()
        if folded.exists():
            title = f"{scenario.title}, {connections} client{'s' if connections > 1 else ''}"
            out.write_text(report.profile_summary(folded, title), encoding="utf-8")


def machine() -> dict[str, Any]:
    """What this run ran on."""
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break

    def version(command: list[str]) -> str:
        if shutil.which(command[0]) is None:
            return "not installed"
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        text = (done.stdout or done.stderr).strip()
        return text.splitlines()[0] if text else ""

    def npm_version(peer: str, package: str) -> str:
        manifest = PEERS / peer / "node_modules" / package / "package.json"
        if not manifest.exists():
            return "not installed"
        return str(json.loads(manifest.read_text())["version"])

    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "node": version(["node", "--version"]),
        "wrk": version(["wrk", "--version"]),
        "hive_gateway": npm_version("hive", "@graphql-hive/gateway"),
        "mesh_compose": npm_version("hive", "@graphql-mesh/compose-cli"),
        "apollo_server": npm_version("apollo", "@apollo/server"),
        "datasource_rest": npm_version("apollo", "@apollo/datasource-rest"),
        "loadavg_at_start": os.getloadavg(),
        "pinning": {"system_under_test": SUT_CPUS, "wrk_and_emulators": LOAD_CPUS},
        "nice": PRIORITY if os.geteuid() == 0 else 0,
    }


def write_result(out: Path, name: str, result: dict[str, Any], date: str | None = None) -> Path:
    """Write ``result`` as ``<out>/<date>-<name>.json`` (``date``: today's UTC date)."""
    date = date or dt.datetime.now(dt.UTC).date().isoformat()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{date}-{name}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    logger.info("wrote %s", path)
    return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The runner's command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per run")
    parser.add_argument(
        "--connections", type=int, nargs="*", help="concurrencies (default: per scenario)"
    )
    parser.add_argument("--scenarios", nargs="*", help="only these scenarios")
    parser.add_argument("--targets", nargs="*", help="only these targets")
    parser.add_argument(
        "--rounds", type=int, help="rounds of every target (default: per scenario, 1 to 3)"
    )
    parser.add_argument("--workers", type=int, default=1, help="LKK_WORKERS of our gateway")
    parser.add_argument("--port-base", type=int, default=18000)
    parser.add_argument("--no-peers", action="store_true", help="leave Hive and Apollo out")
    parser.add_argument("--profile", action="store_true", help="py-spy profiles of our gateway")
    parser.add_argument("--subscribers", type=int, default=200, help="scenario (6)")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    parser.add_argument("--quick", action="store_true", help="2 s runs, 1 s warm-up (a smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.rounds = 2.0, 1.0, 1
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; write results, plots and the summary."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args = parse_args(argv)
    if not wrk_available():
        logger.error("wrk is not installed: apt-get install -y wrk")
        return 2
    with contextlib.suppress(OSError):  # the runner and its helpers stay off the measured core
        os.sched_setaffinity(0, {int(LOAD_CPUS)})
        if os.geteuid() == 0:
            os.nice(PRIORITY)
    bench = Bench(args)
    date = dt.datetime.now(dt.UTC).date().isoformat()
    args.out.mkdir(parents=True, exist_ok=True)
    written: list[dict[str, Any]] = []
    try:
        bench.start_emulators()
        bench.prepare_peers()
        info = machine()  # after the peers are installed: their versions are part of it
        bench.define_servers()
        token = bench.sign_in()
        endpoints = Endpoints(
            gateway=f"http://127.0.0.1:{bench.ports.gateway}",
            hive=f"http://127.0.0.1:{bench.ports.hive}/graphql",
            apollo=f"http://127.0.0.1:{bench.ports.apollo}/",
            metering=bench.emulator_config.metering_url,
            billing=bench.emulator_config.billing_url,
            token=token,
            reading_value=bench.reading_value(),
        )
        scenarios = all_scenarios(endpoints)
        for scenario in scenarios:
            if args.scenarios and scenario.name not in args.scenarios:
                continue
            result = bench.run_scenario(scenario)
            result.update(
                date=date,
                machine=info,
                load={
                    "tool": "wrk",
                    "threads": 1,
                    "duration_s": args.duration,
                    "warmup_s": args.warmup,
                    "lkk_workers": args.workers,
                },
                run_notes=bench.notes,
            )
            path = write_result(args.out, scenario.name, result, date)
            report.plot(result, path.with_suffix(".png"))
            written.append(result)
        if not args.scenarios or "subscriptions" in args.scenarios:
            result = bench.subscriptions(args.subscribers)
            result.update(date=date, machine=info, run_notes=bench.notes)
            path = write_result(args.out, "subscriptions", result, date)
            report.plot_subscriptions(result, path.with_suffix(".png"))
            written.append(result)
        if args.profile:
            # The warm dashboard is profiled running (the response cache's hit path is a
            # lookup): what the operation itself costs. The pass-through also at 1 client,
            # where its target is the latency added.
            profiled = {"passthrough": ("lkk", (50, 1)), "dashboard-warm": ("lkk-run", (50,))}
            for scenario in scenarios:
                if scenario.name in profiled and (
                    not args.scenarios or scenario.name in args.scenarios
                ):
                    name, concurrencies = profiled[scenario.name]
                    for connections in concurrencies:
                        suffix = "" if connections == 50 else f"-{connections}-client"
                        out = args.out / f"{date}-profile-{scenario.name}{suffix}.txt"
                        bench.profile(scenario, name, out, connections)
    finally:
        bench.stop_all()
    summary = args.out / f"{date}-summary.md"
    summary.write_text(report.summary(written, info, bench.notes), encoding="utf-8")
    logger.info("wrote %s", summary)
    return 0
