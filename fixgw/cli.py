"""The ``fixgw`` command: one sub-command per job, each implemented in its own module.

Sub-command modules are imported lazily so that ``fixgw --help`` stays fast and so that a
sub-command's heavy dependencies (ccxt) load only when it needs them.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, function, help). Each function takes the parsed argparse namespace.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("fixgw.app", "run_command", "run the gateway from a config file"),
    "sim": ("fixgw.sim.cli", "sim_command", "run the simulated venues standalone"),
    "demo": ("fixgw.demo", "demo_command", "start everything in-process and trade a few orders"),
    "tca": ("fixgw.tca", "tca_command", "print transaction cost analysis from the journal"),
    "kill": ("fixgw.admin", "kill_command", "kill switch against a running gateway"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fixgw", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, func, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        configure = getattr(importlib.import_module(module), "configure_parser", None) \
            if _module_exists(module) else None
        if configure:
            configure(p)
        else:
            p.add_argument("config", nargs="?")
            p.add_argument("--port", type=int)
    return parser


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module, func, _ = COMMANDS[args.command]
    if not _module_exists(module):
        print(f"fixgw {args.command}: not available in this build", file=sys.stderr)
        return 2
    return int(getattr(importlib.import_module(module), func)(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
