"""`python -m service.processes ROLE …`: one of the processes `shakyo-mod serve` supervises."""

from service.processes.roles import main

raise SystemExit(main())
