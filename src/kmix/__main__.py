"""``python -m kmix`` runs the command line."""

import sys

from kmix.cli.main import main

sys.exit(main())
