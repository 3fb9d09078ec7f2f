"""python -m dblab: the same as the dblab command."""

import sys

from dblab.cli import main

sys.exit(main())
