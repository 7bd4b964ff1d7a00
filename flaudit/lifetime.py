"""Objects a scan leaves for the process exit to free.

Why: ``flaudit scan`` ends with ``os._exit`` once its outputs are written (:func:`flaudit.cli.entry`), so the
interpreter never frees a fleet's inventory, model and result object by object. But an audit's big objects
would still be freed earlier, by reference counting, the moment the function holding them returns: the
deployment model and inventory when :func:`flaudit.audit.run_audit` returns, the result when the scan returns
(~0.05 s at 1,000 silos, for nothing). A command that is going to end with ``os._exit`` says so here first
(:func:`expect_fast_exit`), and the audit parks its objects here; anything else (tests, programs calling
``run_audit``, ``train``) parks nothing and frees as usual.
"""

from __future__ import annotations

_parked: list[object] | None = None


def expect_fast_exit() -> None:
    """From now on this process ends with ``os._exit``: keep what is parked until then."""
    global _parked
    if _parked is None:
        _parked = []


def park(*objects: object) -> None:
    """Keep ``objects`` alive until the process exits, when a fast exit is expected; otherwise do nothing."""
    if _parked is not None:
        _parked.extend(objects)


def parked() -> int:
    """How many objects are parked (for tests)."""
    return len(_parked or [])
