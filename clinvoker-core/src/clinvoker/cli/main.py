"""Entry point of ``clinvk`` (placeholder until the CLI lands)."""

from __future__ import annotations


def main() -> None:
    print("clinvk 0.1.0")
