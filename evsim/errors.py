"""Errors evsim raises for bad input.

Every error names the argument (or scenario field) at fault and what was expected, so a
learner sees ``service_time: expected a distribution or a number, got 'fast'`` instead of
a SimPy or pandas traceback. Each class also derives from the matching built-in, so
``except ValueError`` keeps working.
"""

from __future__ import annotations


class EvsimError(Exception):
    """Base class of every error evsim raises on purpose."""


class ConfigError(EvsimError, ValueError):
    """A value is out of range or malformed (a negative rate, zero partitions, ...)."""


class SendRefusedError(ConfigError):
    """A queue or fanout refused a send as SQS or SNS would: a FIFO message without a
    message group (MissingParameter) or deduplication id (InvalidParameterValue), a
    per-message delay on a FIFO queue or one outside 0-900 s (InvalidParameterValue).
    Raised when the sender is built if every send would be refused, else on the send."""


class ConfigTypeError(EvsimError, TypeError):
    """A value has the wrong type (a service time that is not a distribution or number)."""


class UnknownNameError(EvsimError, LookupError):
    """A name refers to no component (an unknown target or source)."""

    def __str__(self) -> str:  # LookupError would repr() the message; keep it readable
        return str(self.args[0]) if self.args else ""


class SimulationStateError(EvsimError, RuntimeError):
    """The simulation was used in an order it does not support (e.g. run twice)."""


class HandlerError(ConfigTypeError):
    """A consumer group's handler misuses evsim (a wrong signature, an ``async def``
    handler, a yielded event of another simulation, bad ``ctx.publish`` arguments).

    That is a mistake in the program, not a failed attempt: the run stops with this error,
    which names the group and the handler. An exception the handler's own logic raises
    stays a failed attempt, as a real consumer would see it.
    """
