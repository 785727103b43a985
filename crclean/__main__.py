"""Allow ``python -m crclean``."""

from crclean.cli import run

if __name__ == "__main__":
    run()
