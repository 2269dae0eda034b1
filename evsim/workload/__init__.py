"""Layer 1, the workload: named random streams, distributions that know their mean,
arrival processes and key choosers. It depends on nothing of evsim's but errors and checks."""
