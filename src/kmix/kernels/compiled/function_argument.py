"""Compiled functions passed to other compiled functions as arguments.

A compiled function that calls another compiled function directly holds a copy
of the callee's machine code, optimised and built again inside it; a caller that
should run one of several callees (a covariance model's M-step, a kernel written
out for one width of tile) would then need a compiled copy of itself per callee.
Passed as a first-class function of one fixed signature instead, the callee is
compiled once, on its own, and each caller once for all callees, at the cost of
one indirect call per call (made per tile or per M-step, not per row).
"""

from __future__ import annotations

from numba import types
from numba.core.types.function_type import WrapperAddressProtocol
from numba.core.typing.typeof import typeof_impl
from numba.experimental.function_type import _get_wrapper_address

__all__ = ["FunctionArgument"]


class FunctionArgument(WrapperAddressProtocol):
    """``dispatcher`` compiled for ``signature``, as a first-class function argument.

    Its machine address is looked up once (numba looks a dispatcher's address up
    again on every call that passes the dispatcher itself) and its numba type made
    once (numba's generic rule builds it anew on every call)."""

    def __init__(self, dispatcher, signature) -> None:
        self.dispatcher = dispatcher
        self._signature = signature
        self.numba_type = types.FunctionType(signature)
        self._address = 0

    def __wrapper_address__(self) -> int:
        if not self._address:  # compiles the signature on first use (or loads it from the cache)
            self._address = _get_wrapper_address(self.dispatcher, self._signature)
        return self._address

    def signature(self):
        return self._signature


@typeof_impl.register(FunctionArgument)
def _typeof_function_argument(value, context):
    return value.numba_type
