"`python -m uhnw` runs the CLI."
from uhnw.cli import main

if __name__ == "__main__":
    main()
