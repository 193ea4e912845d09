"""`shakyo-mod serve` as separate processes: the web app, the event workers and one jobs process.

The supervisor (`supervisor.py`, in the `serve` process, which also owns the embedded Redis) starts each
role (`roles.py`) as `python -m service.processes ROLE`, restarts one that dies, and stops them in order
on Ctrl-C / SIGTERM. Classification and store transactions then no longer share a GIL with the requests
being acknowledged. Scheduled work lives in the jobs process; `jobs.py` lists it, one line per job.
"""
