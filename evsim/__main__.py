"""``python -m evsim``: the ``evsim`` command (:func:`evsim.cli.main`), for a checkout run
without the installed script (``PYTHONPATH=. python -m evsim run FILE``)."""

import sys

from evsim.cli import main

if __name__ == "__main__":
    sys.exit(main())
