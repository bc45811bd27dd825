import sys

from tierlift.connectors.sandbox.server import main

sys.exit(main())
