"""The ``clinvk`` command line (thin: parse flags, call the library, render)."""
