"""``python -m multigen`` runs the command-line interface."""

from multigen.cli import main

raise SystemExit(main())
