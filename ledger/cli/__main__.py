"""`python -m ledger.cli`."""

from ledger.cli.main import main

main()
