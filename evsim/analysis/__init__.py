"""Around the core: queueing theory in closed form, and experiments (replications, sweeps,
confidence intervals) over runs."""
