"""``python -m clinvoker.cli`` runs ``clinvk``."""

from clinvoker.cli.main import main

main()
