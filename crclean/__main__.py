"""Allow ``python -m crclean``."""

from crclean.cli import main

if __name__ == "__main__":
    main()
