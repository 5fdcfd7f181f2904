"""Binance error codes and messages, exactly as the real venue words them.

ccxt maps errors partly by code and partly by the exact message text (for instance -2010 is
InsufficientFunds only with the message "Account has insufficient balance for requested
action."), so the wording here is part of the wire contract, not cosmetics.
"""
from __future__ import annotations


class BinanceError(Exception):
    """An error the venue answers with ``{"code": code, "msg": msg}`` and an HTTP status."""

    def __init__(self, code: int, msg: str, http_status: int = 400,
                 retry_after: int | None = None, data: dict | None = None) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.retry_after = retry_after
        self.data = data

    def body(self) -> dict:
        if self.data is not None:
            return {"code": self.code, "msg": self.msg, "data": self.data}
        return {"code": self.code, "msg": self.msg}

    def with_retry(self, seconds: float) -> "BinanceError":
        self.retry_after = max(1, int(seconds))
        return self


def insufficient_balance() -> BinanceError:
    return BinanceError(-2010, "Account has insufficient balance for requested action.")


def would_match_and_take() -> BinanceError:
    return BinanceError(-2010, "Order would immediately match and take.")


def futures_post_only_rejected() -> BinanceError:
    return BinanceError(-5022, "Due to the order could not be executed as maker, the Post Only order will be rejected.")


def fok_not_filled() -> BinanceError:
    return BinanceError(-5021, "Due to the order could not be filled immediately, the FOK order has been rejected.")


def invalid_symbol() -> BinanceError:
    return BinanceError(-1121, "Invalid symbol.")


def unknown_order_on_cancel() -> BinanceError:
    return BinanceError(-2011, "Unknown order sent.")


def order_does_not_exist() -> BinanceError:
    return BinanceError(-2013, "Order does not exist.")


def bad_signature() -> BinanceError:
    return BinanceError(-1022, "Signature for this request is not valid.")


def timestamp_ahead(limit_ms: int) -> BinanceError:
    return BinanceError(-1021, f"Timestamp for this request was {limit_ms}ms ahead of the server's time.")


def timestamp_outside_recv_window() -> BinanceError:
    return BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")


def invalid_api_key() -> BinanceError:
    return BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)


def api_key_format_invalid() -> BinanceError:
    return BinanceError(-2014, "API-key format invalid.", 401)


def filter_failure(name: str) -> BinanceError:
    return BinanceError(-1013, f"Filter failure: {name}")


def margin_insufficient() -> BinanceError:
    return BinanceError(-2019, "Margin is insufficient.")


def reduce_only_rejected() -> BinanceError:
    return BinanceError(-2022, "ReduceOnly Order is rejected.")


def max_position_exceeded() -> BinanceError:
    return BinanceError(-2027, "Exceeded the maximum allowable position at current leverage.")


def no_need_to_change_margin_type() -> BinanceError:
    return BinanceError(-4046, "No need to change margin type.")


def mandatory_param(name: str) -> BinanceError:
    return BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def illegal_param(name: str) -> BinanceError:
    return BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}(\\.[0-9]{{1,20}})?$'.")


def invalid_side() -> BinanceError:
    return BinanceError(-1117, "Invalid side.")


def invalid_order_type() -> BinanceError:
    return BinanceError(-1116, "Invalid orderType.")


def invalid_time_in_force() -> BinanceError:
    return BinanceError(-1115, "Invalid timeInForce.")


def param_combination_invalid() -> BinanceError:
    return BinanceError(-1128, "Combination of optional parameters invalid.")


def duplicate_client_order_id() -> BinanceError:
    return BinanceError(-2010, "Duplicate order sent.")


def bad_leverage() -> BinanceError:
    return BinanceError(-4028, "Leverage is not valid.")


def bad_margin_type() -> BinanceError:
    return BinanceError(-4044, "The margin type is not valid.")


def margin_type_change_with_position() -> BinanceError:
    return BinanceError(-4048, "Margin type cannot be changed if there exists position.")


def too_much_weight(limit: int) -> BinanceError:
    return BinanceError(-1003, f"Too many requests; current limit of IP(127.0.0.1) request weight is {limit} per 1 MINUTE. "
                        "Please use WebSocket Streams for live updates to avoid polling the API.", 429)


def banned(until_ms: int) -> BinanceError:
    return BinanceError(-1003, f"Way too much request weight used; IP banned until {until_ms}. "
                        "Please use WebSocket Streams for live updates to avoid bans.", 418)


def too_many_orders(limit: int, seconds: int) -> BinanceError:
    return BinanceError(-1015, f"Too many new orders; current limit is {limit} orders per {seconds} SECOND.", 429)


def not_found_path() -> BinanceError:
    return BinanceError(-1000, "Unknown endpoint.", 404)


def internal_error() -> BinanceError:
    return BinanceError(-1000, "An unknown error occured while processing the request.", 500)


def invalid_listen_key() -> BinanceError:
    return BinanceError(-1125, "This listenKey does not exist.")
