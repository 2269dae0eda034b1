"""Around the core: queueing theory in closed form, experiments (replications, sweeps,
confidence intervals) over runs, alerting rules evaluated on a run's gauges (``alerts``),
and the AWS backoff-and-jitter comparison (``backoff``)."""
