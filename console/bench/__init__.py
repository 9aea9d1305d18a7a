"""``manage.py bench_web``: the HTTP benchmark (docs/benchmarks.md, "HTTP benchmark").

``runner`` runs it (setup step, gunicorn, checks, report) and ``measure`` the wrk steps;
``targets`` lists what is measured, ``results`` turns wrk's output into the table, ``machine``
prepares the server's environment and states the machine's facts, ``client`` talks HTTP to the
server, and ``setup`` is the setup and cleanup step run in the server's environment.
"""
