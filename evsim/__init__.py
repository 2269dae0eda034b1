"""evsim: a discrete-event simulation and teaching kit for event-driven architecture.

``import evsim as ev`` is the whole public API::

    sim = ev.Simulation(seed=1)
    sim.topic("order-events", partitions=6, latency=0.002)
    sim.producer("orders-service", target="order-events", arrivals=ev.Poisson(rate=50),
                 event_type="OrderCreated", keys=ev.UniformKeys(10_000))
    sim.consumer_group("inventory-service", source="order-events", consumers=3,
                       service_time=ev.Exponential(mean=0.02))
    result = sim.run(until=600)
    result.summary()

Times are in seconds, rates per second.
"""

from evsim._version import __version__
from evsim.actors.admission import Throttle
from evsim.actors.autoscale import LagAutoscaler, QueueAutoscaler
from evsim.actors.breaker import CircuitBreaker
from evsim.actors.budgets import RetryThrottle, TokenBucket
from evsim.actors.cache import CacheFlush
from evsim.actors.faults import (
    CapacityLoss,
    ConflictError,
    Contention,
    Crashes,
    Outage,
    PoisonEventError,
    PoisonEvents,
    Slowdown,
    TransientError,
    TransientErrors,
)
from evsim.actors.group_config import GroupConfig
from evsim.actors.handler import HandlerContext
from evsim.actors.load_latency import LoadLatency
from evsim.actors.redrive import Redrive
from evsim.actors.request import Call, CallFailed
from evsim.actors.retry import Backoff, Retry
from evsim.actors.service_handler import ServiceContext, ServiceRequest
from evsim.analysis import theory
from evsim.analysis.alerts import alert_firing
from evsim.analysis.backoff import (
    backoff_comparison,
    backoff_contention,
    backoff_summary,
    contention_simulation,
)
from evsim.analysis.compare import compare, compare_systems
from evsim.analysis.experiment import ConfidenceInterval, confidence_interval, replicate, sweep
from evsim.brokers.fanout import Fanout
from evsim.brokers.partitioner import murmur2, partition_for_key
from evsim.brokers.queue import Queue
from evsim.errors import (
    ConfigError,
    ConfigTypeError,
    EvsimError,
    HandlerError,
    SendRefusedError,
    SimulationStateError,
    UnknownNameError,
)
from evsim.records.event import Event
from evsim.result import AccountingError, Result
from evsim.scenario.aws import from_aws
from evsim.scenario.loader import ScenarioError, load_scenario
from evsim.simulation import Simulation
from evsim.views import plot, widgets
from evsim.views.backoff_charts import backoff_chart
from evsim.views.compare_charts import compare_chart, compare_panel
from evsim.views.prometheus import to_prometheus
from evsim.views.topology import topology
from evsim.views.topology_draw import draw_topology
from evsim.views.topology_mermaid import to_mermaid
from evsim.workload.arrivals import Arrivals, Periodic, Poisson, Replay, Schedule
from evsim.workload.dist import (
    Constant,
    Distribution,
    Empirical,
    Exponential,
    FoldedNormal,
    LogNormal,
    Uniform,
)
from evsim.workload.keys import KeyChooser, UniformKeys, ZipfKeys

__all__ = [
    "AccountingError",
    "Arrivals",
    "Backoff",
    "CacheFlush",
    "Call",
    "CallFailed",
    "CapacityLoss",
    "CircuitBreaker",
    "ConfidenceInterval",
    "ConfigError",
    "ConfigTypeError",
    "ConflictError",
    "Constant",
    "Contention",
    "Crashes",
    "Distribution",
    "Empirical",
    "Event",
    "EvsimError",
    "Exponential",
    "Fanout",
    "FoldedNormal",
    "GroupConfig",
    "HandlerContext",
    "HandlerError",
    "KeyChooser",
    "LagAutoscaler",
    "LoadLatency",
    "LogNormal",
    "Outage",
    "Periodic",
    "PoisonEventError",
    "PoisonEvents",
    "Poisson",
    "Queue",
    "QueueAutoscaler",
    "Redrive",
    "Replay",
    "Result",
    "Retry",
    "RetryThrottle",
    "ScenarioError",
    "Schedule",
    "SendRefusedError",
    "ServiceContext",
    "ServiceRequest",
    "Simulation",
    "SimulationStateError",
    "Slowdown",
    "Throttle",
    "TokenBucket",
    "TransientError",
    "TransientErrors",
    "Uniform",
    "UniformKeys",
    "UnknownNameError",
    "ZipfKeys",
    "__version__",
    "alert_firing",
    "backoff_chart",
    "backoff_comparison",
    "backoff_contention",
    "backoff_summary",
    "compare",
    "compare_chart",
    "compare_panel",
    "compare_systems",
    "confidence_interval",
    "contention_simulation",
    "draw_topology",
    "from_aws",
    "load_scenario",
    "murmur2",
    "partition_for_key",
    "plot",
    "replicate",
    "sweep",
    "theory",
    "to_mermaid",
    "to_prometheus",
    "topology",
    "widgets",
]
