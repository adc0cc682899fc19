"""`python -m kerakit` runs the command line."""

import sys

from kerakit.cli import main

sys.exit(main())
