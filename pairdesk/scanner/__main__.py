"""``python -m pairdesk.scanner once|schedule --db PATH ...``: see ``pairdesk.scanner.process``."""
import sys

from pairdesk.scanner.process import main

sys.exit(main())
