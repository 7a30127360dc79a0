"""`python -m train ...` is the same as `backpropamine ...`."""

import sys

from train.cli import main

sys.exit(main())
