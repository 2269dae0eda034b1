"""Layer 3, the brokers: Kafka-like partitioned topics, SQS-like queues and SNS-like fan-out
with filter policies, and the directory they share (:mod:`evsim.brokers.world`). They
store and hand out records; they know nothing of what consumers do with them."""
