"""Plots, the markdown summary with the issue's targets judged, and profile summaries."""

from __future__ import annotations

import collections
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

Result = dict[str, Any]


def _runs(result: Result, target: str) -> dict[int, dict[str, Any]]:
    for t in result["targets"]:
        if t["name"] == target:
            return {run["connections"]: run for run in t["runs"]}
    return {}


def plot(result: Result, path: Path) -> None:
    """RPS per concurrency, latency percentiles and CPU per request at the highest one."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the bench extra is not installed: JSON and markdown only
        return
    targets = [t for t in result["targets"] if t["runs"]]
    if not targets:
        return
    levels = sorted({run["connections"] for t in targets for run in t["runs"]})
    top = levels[-1]
    names = [t["name"] for t in targets]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    width = 0.8 / max(len(levels), 1)
    for i, c in enumerate(levels):
        values = [_runs(result, n).get(c, {}).get("rps", 0) for n in names]
        xs = [x + i * width for x in range(len(names))]
        bars = axes[0].bar(xs, values, width, label=f"{c} connection{'s' if c > 1 else ''}")
        axes[0].bar_label(bars, fmt="%.0f", fontsize=7)
    axes[0].set_xticks([x + width * (len(levels) - 1) / 2 for x in range(len(names))], names)
    axes[0].set_title("requests per second")
    axes[0].legend(fontsize=8)
    width = 0.27
    for i, pct in enumerate(("p50", "p95", "p99")):
        values = [_runs(result, n).get(top, {}).get("latency_ms", {}).get(pct, 0) for n in names]
        xs = [x + i * width for x in range(len(names))]
        bars = axes[1].bar(xs, values, width, label=pct)
        axes[1].bar_label(bars, fmt="%.0f", fontsize=6)
    axes[1].set_xticks([x + width for x in range(len(names))], names)
    axes[1].set_yscale("log")
    axes[1].set_title(f"latency at {top} connections, ms (log)")
    axes[1].legend(fontsize=8)
    cpu = [
        _runs(result, n).get(top, {}).get("process", {}).get("cpu_ms_per_request", 0) for n in names
    ]
    bars = axes[2].bar(names, cpu, color="tab:gray")
    axes[2].bar_label(bars, fmt="%.2f", fontsize=7)
    axes[2].set_title(f"CPU ms per request of the server, {top} connections")
    for ax in axes:
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    fig.suptitle(f"{result['title']} — {result['date']}, {result['machine']['cpu']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_subscriptions(result: Result, path: Path) -> None:
    """Latency from payment to message, and the gateway's memory with the subscriptions."""
    measured = result["result"]
    if "unavailable" in measured:
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    keys = ["p50", "p95", "p99", "max"]
    for i, kind in enumerate(("succeeded", "booked")):
        lat = measured[f"latency_ms_paid_to_{kind}"]
        bars = axes[0].bar(
            [x + i * 0.4 for x in range(len(keys))],
            [lat.get(k, 0) for k in keys],
            0.4,
            label=f"paid → {kind.upper()} ({measured[f'received_{kind}']} received)",
        )
        axes[0].bar_label(bars, fmt="%.0f", fontsize=7)
    axes[0].set_xticks([x + 0.2 for x in range(len(keys))], keys)
    axes[0].set_yscale("log")
    axes[0].set_title("card payment → subscriber's message, ms (log)")
    axes[0].legend(fontsize=8)
    gw = measured["gateway"]
    labels = ["before", "subscriptions open", "peak while updating"]
    values = [gw["rss_mib_before"], gw["rss_mib_with_subscriptions"], gw["rss_mib_peak"]]
    bars = axes[1].bar(labels, values, color="tab:gray")
    axes[1].bar_label(bars, fmt="%.0f", fontsize=8)
    axes[1].set_title("gateway RSS, MiB")
    fig.suptitle(f"{result['title']} — {result['date']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def subscriptions_section(result: Result) -> list[str]:
    """The markdown of scenario (6)."""
    m = result["result"]
    if "unavailable" in m:
        return [f"could not run: {m['unavailable']}"]
    s, b, gw = m["latency_ms_paid_to_succeeded"], m["latency_ms_paid_to_booked"], m["gateway"]
    return [
        "| subscriptions open | SUCCEEDED received | BOOKED received | errors | "
        "paid → SUCCEEDED p50 / p95 / p99 ms | paid → BOOKED p50 / p99 ms | "
        "RSS before → open → peak MiB | MiB per subscription | CPU s while updating |",
        "|---:|---:|---:|---:|---|---|---|---:|---:|",
        f"| {m['opened']}/{m['subscriptions']} | {m['received_succeeded']} | "
        f"{m['received_booked']} | {m['subscription_errors'] + len(m['payment_failures'])} | "
        f"{s.get('p50', '—')} / {s.get('p95', '—')} / {s.get('p99', '—')} | "
        f"{b.get('p50', '—')} / {b.get('p99', '—')} | {gw['rss_mib_before']:.0f} → "
        f"{gw['rss_mib_with_subscriptions']:.0f} → {gw['rss_mib_peak']:.0f} | "
        f"{gw['rss_mib_per_subscription']:.3f} | {gw['cpu_seconds_while_updating']:.2f} |",
    ]


def _row(target: dict[str, Any], run: dict[str, Any]) -> str:
    lat = run["latency_ms"]
    process = run.get("process", {})
    calls = run["upstream_calls"]
    ops = ", ".join(f"{op} {n:g}" for op, n in calls["by_kind"].items() if n)
    return (
        f"| {target['name']} | {run['connections']} | {run['rps']:.0f} | {lat['p50']:.1f} | "
        f"{lat['p95']:.1f} | {lat['p99']:.1f} | {run['errors']} | "
        f"{calls['per_operation']:g}{f' ({ops})' if ops else ''} | "
        f"{process.get('cpu_ms_per_request', 0):.2f} | {process.get('rss_mib_peak', 0):.0f} |"
    )


def table(result: Result) -> str:
    """The scenario's markdown table."""
    lines = [
        "| target | conns | RPS | p50 ms | p95 ms | p99 ms | errors | upstream calls/op | "
        "server CPU ms/req | server RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for target in result["targets"]:
        if target["unavailable"] and not target["runs"]:
            lines.append(f"| {target['name']} | — | could not run: {target['unavailable']} |||||||")
            continue
        lines.extend(_row(target, run) for run in target["runs"])
    return "\n".join(lines)


def _get(results: Sequence[Result], scenario: str) -> Result | None:
    return next((r for r in results if r["scenario"] == scenario), None)


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**hit**" if ok else "**miss**")


def targets(results: Sequence[Result]) -> list[tuple[str, str, str]]:
    """The issue's targets: (target, measured, verdict)."""
    out: list[tuple[str, str, str]] = []
    passthrough = _get(results, "passthrough")
    if passthrough:
        ours, direct, hive = (_runs(passthrough, n) for n in ("lkk", "direct", "hive"))
        if 1 in ours and 1 in direct:
            added = ours[1]["latency_ms"]["p50"] - direct[1]["latency_ms"]["p50"]
            out.append(
                (
                    "pass-through: added p50 latency at 1 client ≤ 1 ms",
                    f"{added:.2f} ms ({ours[1]['latency_ms']['p50']:.2f} vs direct "
                    f"{direct[1]['latency_ms']['p50']:.2f})",
                    _verdict(added <= 1.0),
                )
            )
        if 50 in ours and 50 in hive:
            ratio = ours[50]["rps"] / hive[50]["rps"] if hive[50]["rps"] else 0
            out.append(
                (
                    "pass-through: RPS at 50 clients ≥ Hive Gateway",
                    f"{ours[50]['rps']:.0f} vs {hive[50]['rps']:.0f} (×{ratio:.2f})",
                    _verdict(ratio >= 1),
                )
            )
    warm = _get(results, "dashboard-warm")
    if warm:
        ours, hive, cached = (_runs(warm, n) for n in ("lkk", "hive", "hive-cache"))
        if 50 in ours:
            calls = ours[50]["upstream_calls"]
            out.append(
                (
                    "dashboard warm: 0 upstream calls",
                    f"{calls['per_operation']:g} per operation; {calls['under_load_total']} "
                    f"in {ours[50]['requests']} operations under load",
                    _verdict(calls["per_operation"] == 0 and calls["under_load_total"] == 0),
                )
            )
            p99 = ours[50]["latency_ms"]["p99"]
            out.append(
                ("dashboard warm: p99 ≤ 50 ms at 50 clients", f"{p99:.1f} ms", _verdict(p99 <= 50))
            )
        if 50 in ours and 50 in hive:
            ratio = ours[50]["rps"] / hive[50]["rps"] if hive[50]["rps"] else 0
            extra = f"; Hive with response cache {cached[50]['rps']:.0f}" if 50 in cached else ""
            out.append(
                (
                    "dashboard warm: RPS ≥ 2× Hive's on the metering part",
                    f"{ours[50]['rps']:.0f} vs {hive[50]['rps']:.0f} (×{ratio:.2f}){extra}",
                    _verdict(ratio >= 2),
                )
            )
    cold = _get(results, "dashboard-cold")
    if cold:
        ours = _runs(cold, "lkk-cold")
        if ours:
            run = ours[max(ours)]
            kinds = run["upstream_calls"]["by_kind"]
            detail = ", ".join(f"{op} {n:g}" for op, n in kinds.items())
            out.append(
                (
                    "dashboard cold: ≤ 1 upstream call per operation kind",
                    detail or "no calls",
                    _verdict(bool(kinds) and max(kinds.values()) <= 1),
                )
            )
    down = _get(results, "billing-down")
    if down:
        healthy, broken = _runs(down, "lkk-healthy"), _runs(down, "lkk-billing-down")
        common = sorted(set(healthy) & set(broken))
        if common:
            c = common[-1]
            h, b = healthy[c]["latency_ms"]["p99"], broken[c]["latency_ms"]["p99"]
            errors = broken[c]["errors"]
            out.append(
                (
                    "billing down, warm cache: 0 errors, p99 ≤ 2× healthy",
                    f"{errors} errors; p99 {b:.1f} ms vs healthy {h:.1f} ms at {c} clients",
                    _verdict(errors == 0 and b <= 2 * h),
                )
            )
    peak = max(
        (
            run.get("process", {}).get("rss_mib_peak", 0)
            for result in results
            for target in result["targets"]
            if target["server"].startswith("lkk")
            for run in target["runs"]
        ),
        default=None,
    )
    if peak is not None:
        out.append(
            (
                "RSS of one gateway process under load ≤ 200 MB",
                f"{peak:.0f} MiB peak",
                _verdict(peak * 1.048576 <= 200),
            )
        )
    return out


def summary(results: Sequence[Result], machine: dict[str, Any], notes: Iterable[str]) -> str:
    """The run's markdown summary."""
    date = results[0]["date"] if results else ""
    lines = [
        f"# Benchmarks {date}",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"{machine['os']}; Python {machine['python']}, Node {machine['node']}, "
        f"{machine['wrk']}. Hive Gateway {machine['hive_gateway']} (Mesh compose "
        f"{machine['mesh_compose']}), Apollo Server {machine['apollo_server']} "
        f"(datasource-rest {machine['datasource_rest']}). Load average at start: "
        f"{', '.join(f'{x:.2f}' for x in machine['loadavg_at_start'])}.",
        "",
        "The system under test runs alone on core 0; wrk (1 thread) and the emulators share "
        "core 1. Every answer is checked (expected data present, no GraphQL error).",
        "",
    ]
    for note in notes:
        lines += [f"- {note}"]
    measured = [r for r in results if "targets" in r]
    if measured:
        lines += ["", "## Targets of the issue", "", "| target | measured | verdict |"]
        lines += ["|---|---|---|"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in targets(measured)]
    for result in results:
        lines += ["", f"## {result['title']}", ""]
        lines += [f"![{result['scenario']}]({date}-{result['scenario']}.png)", ""]
        if "targets" not in result:
            lines += subscriptions_section(result)
            lines += ["", *(f"- {note}" for note in result["notes"])]
            continue
        lines += [table(result)]
        for note in result["notes"]:
            lines += ["", f"- {note}"]
        for target in result["targets"]:
            lines += [f"- `{target['name']}`: {target['description']}"]
    if measured:
        lines += ["", "## All scenarios at a glance", "", headline(measured)]
    return "\n".join(lines) + "\n"


def headline(results: Sequence[Result]) -> str:
    """One compact table of every scenario (docs/performance.md): RPS at each concurrency,
    latency and cost at the highest."""
    lines = [
        "| scenario | target | RPS (1 / top conns) | p50 / p99 ms at top | errors | "
        "upstream calls/op | CPU ms/req | RSS MiB |",
        "|---|---|---|---|---:|---:|---:|---:|",
    ]
    for result in results:
        for target in result.get("targets", []):
            runs = {run["connections"]: run for run in target["runs"]}
            if not runs:
                lines.append(
                    f"| {result['scenario']} | {target['name']} | could not run: "
                    f"{target['unavailable']} |||||| "
                )
                continue
            top = runs[max(runs)]
            rps = " / ".join(f"{runs[c]['rps']:.0f}" for c in sorted(runs))
            lat = top["latency_ms"]
            process = top.get("process", {})
            lines.append(
                f"| {result['scenario']} | {target['name']} | {rps} (c={max(runs)}) | "
                f"{lat['p50']:.1f} / {lat['p99']:.1f} | "
                f"{sum(run['errors'] for run in runs.values())} | "
                f"{top['upstream_calls']['per_operation']:g} | "
                f"{process.get('cpu_ms_per_request', 0):.2f} | "
                f"{process.get('rss_mib_peak', 0):.0f} |"
            )
    return "\n".join(lines) + "\n"


_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^:]+):(?P<line>\d+)\)$")


def profile_summary(folded: Path, title: str, *, top: int = 30) -> str:
    """Self and inclusive time of the event-loop thread from py-spy's raw (folded) output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not any("uvicorn" in f or "Runner.run" in f for f in frames):
            continue  # worker threads (aiosqlite) waiting on their queues
        n = int(count)
        total += n
        leaf = _FRAME.match(frames[-1])
        name = f"{leaf['func']} ({leaf['file']})" if leaf else frames[-1]
        own[name] += n
        packages[(leaf["file"] if leaf else "?").split("/")[0]] += n
        for frame in set(frames):
            match = _FRAME.match(frame)
            inclusive[f"{match['func']} ({match['file']})" if match else frame] += n
    if not total:
        return f"# Profile: {title}\n\nno samples\n"
    lines = [
        f"# Profile: {title}",
        "",
        f"{total} samples of the event-loop thread",
        "",
        "## self time by package",
        "",
    ]
    lines += [f"{100 * n / total:5.1f}%  {k}" for k, n in packages.most_common(15)]
    lines += ["", "## self time by function", ""]
    lines += [f"{100 * n / total:5.1f}%  {k}" for k, n in own.most_common(top)]
    lines += ["", "## inclusive time", ""]
    lines += [f"{100 * n / total:5.1f}%  {k}" for k, n in inclusive.most_common(top * 2)]
    return "\n".join(lines) + "\n"
