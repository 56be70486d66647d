"""``python -m nsolve``: the command line (see :mod:`nsolve.cli`)."""

from nsolve.cli import main

raise SystemExit(main())
