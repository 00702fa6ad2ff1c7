"""Binance's error codes, named once: what the engine reads in an answer, and what its simulated venues
(the paper exchange, the fill model, the market-data reader) answer with.

The names are Binance's own (binance-spot-api-docs, ``errors.md``). Constants only, no imports, so a pure
module (``venue_budget.py``) may use them too; what each code means for an order (definitive, retryable,
unknown) is ``errors.py``'s classification.
"""

from __future__ import annotations

# 10xx: general server or network issues
UNKNOWN = -1000
DISCONNECTED = -1001  # "Internal error; unable to process your request. Please try again."
TOO_MANY_REQUESTS = -1003  # request weight past its limit (429), or the IP banned (418)
UNEXPECTED_RESP = -1006  # "Execution status unknown."
TIMEOUT = -1007  # "Send status unknown; execution status unknown."
SERVER_BUSY = -1008
FILTER_FAILURE = -1013  # Binance's INVALID_MESSAGE, which every "Filter failure: <FILTER>" answer carries
UNKNOWN_ORDER_COMPOSITION = -1014
TOO_MANY_ORDERS = -1015  # the account's order count past an ORDERS limit
INVALID_TIMESTAMP = -1021  # outside recvWindow, or ahead of the server's clock

# 11xx: request issues
MALFORMED_PARAM = -1102  # Binance's MANDATORY_PARAM_EMPTY_OR_MALFORMED
PARAM_NOT_REQUIRED = -1106
INVALID_SYMBOL = -1121  # the venue does not list the symbol

# 20xx: processing issues
NEW_ORDER_REJECTED = -2010  # insufficient balance, duplicate client order id, would take or trigger at once
CANCEL_REJECTED = -2011  # "Unknown order sent." (a cancel of an order that is not open)
NO_SUCH_ORDER = -2013  # "Order does not exist."
BAD_API_KEY_FMT = -2014
BALANCE_NOT_SUFFICIENT = -2018
