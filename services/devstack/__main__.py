"""`python -m services.devstack`: the `make run` entry point."""

from services.devstack.launcher import main

raise SystemExit(main())
