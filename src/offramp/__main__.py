import sys

from offramp._cli import main

if __name__ == "__main__":
    sys.exit(main())
