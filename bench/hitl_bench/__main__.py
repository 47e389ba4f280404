"""``python -m hitl_bench``: the same as ``hitl bench``."""

import sys

from hitl.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
