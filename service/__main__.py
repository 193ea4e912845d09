"""`python -m service` is the same as the `shakyo-mod` console script."""

from service.cli import main

raise SystemExit(main())
