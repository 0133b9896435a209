"""`python -m devserver` (what `make run` calls)."""

import sys

from devserver.run import main

sys.exit(main())
