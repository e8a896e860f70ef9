"""Helpers of the reliability suite: a fault-injecting fake CLI, /proc probes, a server process."""
