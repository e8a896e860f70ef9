"""End-to-end tests: the fake model API itself, and the real CLIs driven through clinvoker."""
