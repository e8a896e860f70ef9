"""The adversarial suite: faults, load, sessions under stress, shutdown, fuzzing, security."""
