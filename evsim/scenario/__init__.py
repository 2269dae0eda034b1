"""Around the core: scenario files (YAML, JSON or a dict) and the AWS SNS/SQS configuration
import, each turned into a :class:`~evsim.simulation.Simulation`."""
