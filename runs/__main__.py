"""``python -m runs`` is the ``defcoord`` command."""

from runs.cli import main

raise SystemExit(main())
