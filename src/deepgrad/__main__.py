"""``python -m deepgrad <command>``: the same as the ``deepgrad`` console command."""

import sys

from deepgrad.cli import main

sys.exit(main())
