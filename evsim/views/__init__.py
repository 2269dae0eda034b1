"""Around the core: what people look at: charts of runs and sweeps, the topology graph,
and the Prometheus text a scrape would see."""
