"""``python -m autoencoders``: the same program as the ``autoencoders`` command."""

from autoencoders.cli import main

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
