"""Layer 4, the actors: producers, consumer groups and their parts (consumers, feeds,
handlers, the attempt policy, the idempotency store), redrives and the gauge sampler,
and the policies they share (faults, retry and backoff)."""
