import sys

from tierlift.sandbox.server import main

sys.exit(main())
