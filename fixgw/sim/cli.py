"""``fixgw sim [CONFIG]``: run the simulated venues standalone until SIGINT/SIGTERM.

Prints one line per venue as soon as it listens (flushed at once: a supervisor may read them
from a pipe), then a ``ready`` line::

    venue simA http://127.0.0.1:40123 rest=/api/v3,/sapi/v1,/fapi/v1,/fapi/v2,/fapi/v3 ws=/stream/ws,/ws-api/v3,/fstream/ws api_key=... api_secret=...
    ready venues=3 time_scale=1 seed=42

The banner is the one place where the demo account's secret is shown on purpose. With
``--state-file`` (how ``fixgw run`` starts the venues, detached, output to a log file) the
credentials go to that 0600 file instead and the banner says so.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path

from fixgw.clock import ScaledClock
from fixgw.sim.launcher import VenueEndpoint, remove_state, start_sim_venues, write_state
from fixgw.sim.market_config import load_sim_config

REST_PATHS = ("/api/v3", "/sapi/v1", "/fapi/v1", "/fapi/v2", "/fapi/v3")
WS_PATHS = ("/stream/ws", "/ws-api/v3", "/fstream/ws")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", help="venues config (default: sessions/venues.yaml)")
    parser.add_argument("--time-scale", type=float, help="market seconds per wall second (60: an hour in a minute)")
    parser.add_argument("--seed", type=int, help="market model seed")
    parser.add_argument("--port-base", type=int, help="venue i listens on PORT_BASE + i (0: free ports)")
    parser.add_argument("--host", help="listen address (default from config: 127.0.0.1)")
    parser.add_argument("--state-file", help="write endpoints and credentials here (mode 0600) "
                        "instead of printing the secret; removed on exit")
    parser.add_argument("--epoch", type=float, help="market clock epoch (shared with the gateway)")
    parser.add_argument("--fingerprint", default="", help=argparse.SUPPRESS)
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")


def banner_line(endpoint: VenueEndpoint, show_secret: bool, state_file: str | None = None,
                secret_env: str | None = None) -> str:
    """One venue's address and demo account. A generated secret is shown (the only way to
    learn it without a state file); one read from an environment variable never is."""
    if secret_env is not None:
        secret = f"(from ${secret_env})"
    else:
        secret = endpoint.api_secret if show_secret else f"(in {state_file})"
    return (f"venue {endpoint.name} {endpoint.base_url} rest={','.join(REST_PATHS)} "
            f"ws={','.join(WS_PATHS)} api_key={endpoint.api_key} api_secret={secret}")


def sim_command(args: argparse.Namespace) -> int:
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        config = load_sim_config(args.config, seed=args.seed, time_scale=args.time_scale,
                                 port_base=args.port_base, host=args.host)
    except ValueError as exc:
        print(f"fixgw sim: {exc}", file=sys.stderr, flush=True)
        return 2
    try:
        import uvloop  # noqa: F401
        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        return runner(_serve(config, args))
    except OSError as exc:                # e.g. port already in use
        print(f"fixgw sim: {exc}", file=sys.stderr, flush=True)
        return 1


async def _serve(config, args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    epoch = args.epoch if args.epoch is not None else time.time()
    clock = ScaledClock(scale=config.time_scale, epoch=epoch)
    venues = await start_sim_venues(config, clock)
    state_file = Path(args.state_file) if args.state_file else None
    try:
        endpoints = venues.endpoints()
        secret_envs = {v.name: v.secret_env for v in config.venues}
        for e in endpoints:
            print(banner_line(e, show_secret=state_file is None, state_file=args.state_file,
                              secret_env=secret_envs.get(e.name)), flush=True)
        if state_file is not None:
            write_state(state_file, pid=os.getpid(), config=config, fingerprint=args.fingerprint,
                        epoch=epoch, endpoints=endpoints)
        print(f"ready venues={len(endpoints)} time_scale={config.time_scale:g} seed={config.seed}",
              flush=True)
        await stop.wait()
    finally:
        await venues.stop()
        if state_file is not None:
            remove_state(state_file, os.getpid())
    try:
        print("stopped", flush=True)
    except (BrokenPipeError, ValueError):      # the supervisor reading our output is gone
        pass
    return 0
