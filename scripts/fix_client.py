#!/usr/bin/env python3
"""FIX 4.4 command-line initiator: log on, send one order message, print everything received.

    python scripts/fix_client.py --port 9880 --sender CLIENT1 --target FIXGW \\
        --username alice --password-env FIXGW_PASSWORD \\
        order --symbol BTC/USDT --side buy --qty 2.5 --price 65000 --strategy twap \\
              --end +30m --param venues=simA,simB --wait 10

Sub-commands: ``logon`` (log on, listen, log out), ``order`` (NewOrderSingle), ``cancel``
(OrderCancelRequest), ``replace`` (OrderCancelReplaceRequest), ``status`` (OrderStatusRequest),
``mass-cancel`` (OrderMassCancelRequest). Received messages print as
``<- 35=8(ExecutionReport) 39=2(Filled) ...`` (``--verbose`` adds field names).
The session logic lives in ``fixgw.client.FixClient`` so tests can reuse it.
Passwords come from an environment variable or a file, never from the command line.
"""
from __future__ import annotations

import argparse
import datetime as dt
import pathlib
import re
import sys
import uuid
from decimal import Decimal, InvalidOperation

try:
    from fixgw import client as fc
except ModuleNotFoundError:   # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
    from fixgw import client as fc


def decimal_text(value: str) -> str:
    """Validate a quantity/price as a Decimal but send it exactly as typed (no float ever)."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a decimal number: {value!r}") from None
    if not number.is_finite():
        raise argparse.ArgumentTypeError(f"not a finite number: {value!r}")
    return value


_RELATIVE = re.compile(r"^\+(\d+)([smh]?)$")


def fix_time(value: str) -> str:
    """``+90``/``+90s``/``+5m``/``+1h`` from now, or a FIX UTCTimestamp passed through."""
    match = _RELATIVE.match(value)
    if match:
        seconds = int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
        return fc.utc_timestamp(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds))
    if re.fullmatch(r"\d{8}-\d{2}:\d{2}:\d{2}(\.\d{3})?", value):
        return value
    raise argparse.ArgumentTypeError(f"time must be +N[s|m|h] or YYYYMMDD-HH:MM:SS[.sss]: {value!r}")


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 2)[2])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sender", required=True, help="our SenderCompID(49)")
    p.add_argument("--target", required=True, help="the gateway's CompID (our TargetCompID 56)")
    p.add_argument("--username", help="Username(553) on Logon")
    pw = p.add_mutually_exclusive_group()
    pw.add_argument("--password-env", metavar="VAR", help="read Password(554) from this env var")
    pw.add_argument("--password-file", metavar="PATH", help="read Password(554) from this file")
    p.add_argument("--tls", action="store_true", help="connect with TLS")
    p.add_argument("--cafile", help="CA bundle that signed the gateway's certificate")
    p.add_argument("--certfile", help="client certificate (mutual TLS)")
    p.add_argument("--keyfile", help="client private key (mutual TLS)")
    p.add_argument("--server-name", help="TLS server name to verify (default: --host)")
    p.add_argument("--heartbeat", type=int, default=30, help="HeartBtInt(108), seconds")
    p.add_argument("--reset", action="store_true", help="send 141=Y (ResetSeqNumFlag) on Logon")
    p.add_argument("--seq-file", type=pathlib.Path,
                   help="JSON file keeping our sequence numbers between runs")
    p.add_argument("--wait", type=float, default=3.0,
                   help="seconds to keep listening after sending (default 3)")
    p.add_argument("--dictionary", type=pathlib.Path, default=fc.default_dictionary(),
                   help="QuickFIX-format XML dictionary for names (default: dictionaries/FIX44.xml)")
    p.add_argument("--verbose", action="store_true", help="print field names too")
    p.add_argument("--no-logout", action="store_true", help="drop the connection without Logout")

    # --wait/--verbose are also accepted after the sub-command (SUPPRESS: no default there, so
    # a value given before the sub-command is not overwritten).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--wait", type=float, default=argparse.SUPPRESS,
                        help="seconds to keep listening after sending")
    common.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="action", required=True)
    add = lambda name, help_text: sub.add_parser(name, help=help_text, parents=[common])  # noqa: E731
    add("logon", "log on, listen for --wait seconds, log out")

    order = add("order", "NewOrderSingle (35=D)")
    _order_identity(order, need_orig=False)
    order.add_argument("--qty", type=decimal_text, required=True)
    order.add_argument("--price", type=decimal_text, help="limit price (44)")
    order.add_argument("--ord-type", default=None, help="market|limit|stop|stop_limit or code "
                       "(default: limit with --price, else market)")
    order.add_argument("--tif", help="day|gtc|ioc|fok|gtd or a TimeInForce code")
    order.add_argument("--strategy", help="847 TargetStrategy: twap|vwap|pov|iceberg|arrival or code")
    order.add_argument("--urgency", help="848 TargetStrategyParameters, e.g. LOW/MEDIUM/HIGH")
    order.add_argument("--participation", type=decimal_text, help="849 ParticipationRate (0..1]")
    order.add_argument("--start", type=fix_time, help="168 EffectiveTime (+5m or a timestamp)")
    order.add_argument("--end", type=fix_time, help="126 ExpireTime (+30m or a timestamp)")
    order.add_argument("--max-floor", type=decimal_text, help="111 MaxFloor (iceberg display)")
    order.add_argument("--param", action="append", default=[], metavar="NAME[:TYPE]=VALUE",
                       help="strategy parameter (957-960); repeatable, e.g. venues=simA,simB")

    cancel = add("cancel", "OrderCancelRequest (35=F)")
    _order_identity(cancel, need_orig=True)
    cancel.add_argument("--qty", type=decimal_text)

    replace = add("replace", "OrderCancelReplaceRequest (35=G)")
    _order_identity(replace, need_orig=True)
    replace.add_argument("--qty", type=decimal_text, required=True)
    replace.add_argument("--price", type=decimal_text)
    replace.add_argument("--ord-type", default=None)
    replace.add_argument("--tif")

    status = add("status", "OrderStatusRequest (35=H)")
    status.add_argument("--cl-ord-id", required=True, help="ClOrdID(11) of the order")
    status.add_argument("--symbol", required=True)
    status.add_argument("--side", required=True)
    status.add_argument("--order-id")

    mass = add("mass-cancel", "OrderMassCancelRequest (35=q)")
    mass.add_argument("--cl-ord-id", default=None)
    mass.add_argument("--symbol", help="cancel only this symbol (530=1); default all (530=7)")
    mass.add_argument("--account")
    return p


def _order_identity(parser: argparse.ArgumentParser, need_orig: bool) -> None:
    parser.add_argument("--cl-ord-id", default=None, help="ClOrdID(11) (default: random)")
    if need_orig:
        parser.add_argument("--orig-cl-ord-id", required=True, help="OrigClOrdID(41)")
        parser.add_argument("--order-id", help="OrderID(37)")
    parser.add_argument("--symbol", required=True)
    parser.add_argument("--side", required=True, help="buy|sell or a Side code")
    parser.add_argument("--account", help="Account(1)")


def message_for(args: argparse.Namespace) -> tuple[str, list[tuple[int, str]]] | None:
    """(MsgType, body) for the chosen sub-command; None for ``logon``."""
    if args.action == "logon":
        return None
    cl_ord_id = args.cl_ord_id or new_id()
    if args.action == "order":
        ord_type = args.ord_type or ("limit" if args.price else "market")
        params = [fc.StrategyParameter.parse(text) for text in args.param]
        return "D", fc.new_order_single(
            cl_ord_id, args.symbol, fc.code(fc.SIDES, args.side, "side"), args.qty,
            ord_type=fc.code(fc.ORD_TYPES, ord_type, "order type"), price=args.price,
            tif=fc.code(fc.TIFS, args.tif, "time in force") if args.tif else None,
            account=args.account,
            strategy=fc.code(fc.STRATEGIES, args.strategy, "strategy") if args.strategy else None,
            strategy_urgency=args.urgency, participation=args.participation,
            effective_time=args.start, expire_time=args.end, max_floor=args.max_floor,
            params=params)
    if args.action == "cancel":
        return "F", fc.order_cancel_request(cl_ord_id, args.orig_cl_ord_id, args.symbol,
                                            fc.code(fc.SIDES, args.side, "side"), args.qty,
                                            args.order_id, args.account)
    if args.action == "replace":
        ord_type = args.ord_type or ("limit" if args.price else "market")
        return "G", fc.order_cancel_replace_request(
            cl_ord_id, args.orig_cl_ord_id, args.symbol, fc.code(fc.SIDES, args.side, "side"),
            args.qty, ord_type=fc.code(fc.ORD_TYPES, ord_type, "order type"), price=args.price,
            tif=fc.code(fc.TIFS, args.tif, "time in force") if args.tif else None,
            order_id=args.order_id, account=args.account)
    if args.action == "status":
        return "H", fc.order_status_request(cl_ord_id, args.symbol,
                                            fc.code(fc.SIDES, args.side, "side"), args.order_id)
    if args.action == "mass-cancel":
        return "q", fc.order_mass_cancel_request(cl_ord_id, args.symbol, args.account)
    raise AssertionError(args.action)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        message = message_for(args)
        password = fc.read_password(args.password_env, args.password_file)
    except (ValueError, fc.ClientError, OSError) as exc:
        print(f"fix_client: {exc}", file=sys.stderr)
        return 2
    names = fc.FieldNames.load(args.dictionary)

    def show(direction: str, msg) -> None:
        print(f"{direction} {names.describe(msg, args.verbose)}", flush=True)

    config = fc.ClientConfig(
        host=args.host, port=args.port, sender=args.sender, target=args.target,
        username=args.username, password=password, heartbeat=args.heartbeat,
        reset_on_logon=args.reset, tls=args.tls, cafile=args.cafile, certfile=args.certfile,
        keyfile=args.keyfile, server_hostname=args.server_name, seq_file=args.seq_file)
    client = fc.FixClient(config, listener=show)
    try:
        client.logon()
        if message is not None:
            client.send(*message)
        client.drain(args.wait)
        if client.sock is not None and not args.no_logout:
            client.logout()
    except fc.LogonRejected as exc:
        print(f"fix_client: {exc}", file=sys.stderr)
        return 1
    except (OSError, fc.ClientError) as exc:
        print(f"fix_client: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
