"""``python -m conch``: the same command line as the ``conch`` script."""

from __future__ import annotations

from conch._cli import main

if __name__ == "__main__":
    main(prog_name="conch")
