"""``clinvk`` as a real subprocess: prompts, sessions, parallel/chain/compare, signals."""
