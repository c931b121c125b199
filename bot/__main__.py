"""``python -m bot`` runs the ``signalbot`` command line."""

from bot.cli import main

main()
