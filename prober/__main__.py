"""`python -m prober`: the same entry point as the `prober` console script."""

from prober.cli import main

raise SystemExit(main())
