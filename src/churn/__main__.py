"""``python -m churn``: the ``churn`` command."""

from churn.cli import main

if __name__ == "__main__":
    main()
