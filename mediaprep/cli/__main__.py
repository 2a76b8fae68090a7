"""python -m mediaprep.cli (the same as python -m mediaprep)"""

import sys

from . import main

sys.exit(main())
