"""Load with wrk: one request shape per run, latency percentiles and a check of every answer.

The Lua script wrk runs is written per run. Its ``response`` hook counts answers that lack
the text every correct answer carries (``expect``) or that carry a GraphQL error, so a
target that answers fast but wrong is counted as failing, not as fast. A body may contain
``{{n}}``: it is replaced per request by a counter unique to the run (idempotency keys).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = r"""
local body = [==[%(body)s]==]
local expect = [==[%(expect)s]==]
local counter = 0
local threads = {}

wrk.method = "%(method)s"
%(headers)s

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  bad = 0
  graphql_errors = 0
  sample = ""
end

function request()
  if body == "" then
    return wrk.format(nil, nil, nil, nil)
  end
  counter = counter + 1
  local text = body:gsub("{{n}}", string.format("%%d-%%d-%%d", id, counter, %(seed)d))
  return wrk.format(nil, nil, nil, text)
end

function response(status, headers, text)
  local failed = status >= 400 or (expect ~= "" and not string.find(text, expect, 1, true))
  if string.find(text, '"errors":[{"message"', 1, true) then
    graphql_errors = graphql_errors + 1
    failed = true
  end
  if failed then
    bad = bad + 1
    if sample == "" then sample = string.sub(text, 1, 300) end
  end
end

function done(summary, latency, requests)
  local bad_total, gql_total, first_sample = 0, 0, ""
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
    gql_total = gql_total + thread:get("graphql_errors")
    local s = thread:get("sample")
    if first_sample == "" and s ~= nil then first_sample = s end
  end
  local e = summary.errors
  io.write("WRK_JSON ")
  io.write(string.format(
    '{"requests":%%d,"duration_us":%%d,"bytes":%%d,'
    .. '"connect_errors":%%d,"read_errors":%%d,"write_errors":%%d,"status_errors":%%d,'
    .. '"timeouts":%%d,"bad_answers":%%d,"graphql_errors":%%d,'
    .. '"latency_us":{"mean":%%.1f,"p50":%%d,"p90":%%d,"p95":%%d,"p99":%%d,"max":%%d}}',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout, bad_total, gql_total,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max))
  io.write("\nWRK_SAMPLE " .. string.gsub(first_sample, "\n", " ") .. "\n")
end
"""


@dataclass(frozen=True)
class Request:
    """What every request of a run sends, and what every good answer contains."""

    url: str
    method: str = "GET"
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    expect: str = ""


@dataclass
class LoadResult:
    """wrk's figures of one run."""

    connections: int
    requests: int
    duration_s: float
    rps: float
    latency_ms: dict[str, float]
    errors: dict[str, int]
    error_sample: str

    @property
    def error_count(self) -> int:
        """Every failed request: socket errors and timeouts, plus answers that were an HTTP
        error, a GraphQL error or lacked the expected data."""
        e = self.errors
        return e["connect"] + e["read"] + e["write"] + e["timeout"] + e["bad"]


def _lua_string(text: str) -> str:
    if "]==]" in text:
        raise ValueError("request text may not contain ']==]'")
    return text


def script(request: Request, seed: int) -> str:
    """The Lua script of one run."""
    headers = "\n".join(
        f'wrk.headers["{name}"] = [==[{_lua_string(value)}]==]'
        for name, value in request.headers.items()
    )
    return SCRIPT % {
        "body": _lua_string(request.body),
        "expect": _lua_string(request.expect),
        "method": request.method,
        "headers": headers,
        "seed": seed,
    }


def wrk_available() -> bool:
    """Whether wrk is installed (``apt-get install wrk``)."""
    return shutil.which("wrk") is not None


def run_wrk(
    request: Request,
    *,
    connections: int,
    duration: float,
    workdir: Path,
    cpus: str | None,
    threads: int = 1,
) -> LoadResult:
    """Drive ``request`` with ``connections`` keep-alive connections for ``duration`` s."""
    from bench.processes import pinned

    workdir.mkdir(parents=True, exist_ok=True)
    seed = time.monotonic_ns() % 1_000_000_007
    lua = workdir / f"wrk-{seed}.lua"
    lua.write_text(script(request, seed), encoding="utf-8")
    command = pinned(
        [
            "wrk",
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "-s",
            str(lua),
            request.url,
        ],
        cpus,
    )
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 60, check=False
    )
    lua.unlink(missing_ok=True)
    raw, sample = None, ""
    for line in finished.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            raw = json.loads(line.removeprefix("WRK_JSON "))
        elif line.startswith("WRK_SAMPLE "):
            sample = line.removeprefix("WRK_SAMPLE ").strip()
    if raw is None:
        raise RuntimeError(f"wrk gave no result: {finished.stdout[-500:]} {finished.stderr[-500:]}")
    seconds = raw["duration_us"] / 1e6
    latency = {k: round(v / 1000, 3) for k, v in raw["latency_us"].items()}
    return LoadResult(
        connections=connections,
        requests=raw["requests"],
        duration_s=round(seconds, 3),
        rps=round(raw["requests"] / seconds, 1) if seconds else 0.0,
        latency_ms=latency,
        errors={
            "connect": raw["connect_errors"],
            "read": raw["read_errors"],
            "write": raw["write_errors"],
            "status": raw["status_errors"],
            "timeout": raw["timeouts"],
            "bad": raw["bad_answers"],
            "graphql": raw["graphql_errors"],
        },
        error_sample=sample,
    )
