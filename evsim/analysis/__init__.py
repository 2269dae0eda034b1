"""Around the core: queueing theory in closed form, experiments (replications, sweeps,
confidence intervals) over runs, and the AWS backoff-and-jitter comparison (``backoff``)."""
