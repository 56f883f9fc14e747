import sys

from monitor.cluster.cli import main

raise SystemExit(main(sys.argv[1:]))
