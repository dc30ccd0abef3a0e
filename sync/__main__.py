"""Allow ``python -m sync`` as another name for the ``billfold`` command."""

from sync.cli import main

main()
