"""``python -m runs`` is the ``defcoord`` command."""

from runs.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
