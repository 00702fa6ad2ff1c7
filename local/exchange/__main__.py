import sys

from local.exchange.app import main

sys.exit(main())
