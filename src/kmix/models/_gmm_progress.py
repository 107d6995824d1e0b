"""scikit-learn's verbose lines for the runs of one GaussianMixture fit."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .em import EMResult, GaussianMixtureState

__all__ = ["_Progress"]


class _Progress:
    """scikit-learn's verbose lines for the runs of one fit (see ``verbose``)."""

    def __init__(self, verbose: int, interval: int) -> None:
        self.verbose = verbose
        self.interval = interval
        self._run_start = self._last = 0.0

    def start(self, init: int) -> None:
        print(f"Initialization {init}")
        self._run_start = self._last = time.perf_counter()

    def reporting(self, callback: Callable[[int, GaussianMixtureState], Any] | None
                  ) -> Callable[[int, GaussianMixtureState], Any]:
        """``callback`` preceded by the line of the iteration it is called after."""

        def report(iteration: int, state: GaussianMixtureState) -> Any:
            if iteration % self.interval == 0:
                if self.verbose == 1:
                    print(f"  Iteration {iteration}")
                else:
                    now = time.perf_counter()
                    print(f"  Iteration {iteration}\t time lapse {now - self._last:.5f}s\t "
                          f"ll change {state.change:.5f}")
                    self._last = now
            return None if callback is None else callback(iteration, state)

        return report

    def end(self, result: EMResult) -> None:
        status = "converged" if result.converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {status}.")
        else:
            elapsed = time.perf_counter() - self._run_start
            print(f"Initialization {status}. time lapse {elapsed:.5f}s\t lower bound {result.lower_bound:.5f}.")
