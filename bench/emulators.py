"""Runs a subset of the emulators in a process of its own, on uvloop, for the benchmarks.

``python -m bench.emulators --systems metering`` serves metering alone, so that the runner can
pin it to a core, read its CPU time, and call it directly (the "no gateway" baseline) without
the other emulators sharing its event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from dataclasses import asdict
from pathlib import Path

import uvloop

from emulators.config import SYSTEMS, EmulatorConfig
from emulators.host import EmulatorHost


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The launcher's command line: which systems, which ports, where the state lives."""
    parser = argparse.ArgumentParser(prog="python -m bench.emulators")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--config", required=True, help="EmulatorConfig as JSON")
    return parser.parse_args(argv)


async def serve(config: EmulatorConfig, systems: tuple[str, ...]) -> None:
    """Serve until SIGTERM or SIGINT."""
    host = EmulatorHost(config, systems)
    await host.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write(json.dumps({"ready": list(systems)}) + "\n")
    sys.stdout.flush()
    await stop.wait()
    with contextlib.suppress(Exception):
        await host.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args = parse_args(argv)
    raw = json.loads(args.config)
    if raw.get("data_dir"):
        raw["data_dir"] = Path(raw["data_dir"])
    config = EmulatorConfig(**raw)
    systems = tuple(s for s in args.systems.split(",") if s)
    uvloop.run(serve(config, systems))


def config_json(config: EmulatorConfig) -> str:
    """The config as the launcher's ``--config`` takes it."""
    raw = asdict(config)
    raw["data_dir"] = str(config.data_dir) if config.data_dir is not None else None
    return json.dumps(raw)


if __name__ == "__main__":
    main()
