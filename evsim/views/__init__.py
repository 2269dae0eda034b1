"""Around the core: what people look at: charts of runs and sweeps, the topology graph,
the Prometheus text a scrape would see, and the widgets of the lessons (``ev.widgets``,
which import ipywidgets only when one is built)."""
