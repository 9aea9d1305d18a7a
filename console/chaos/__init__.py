"""``manage.py chaos``: the whole product run through every fault in one go, and counted.

- ``postgres``: a PostgreSQL cluster of the run's own (initdb in a temporary directory), so
  the "PostgreSQL restart under load" fault never touches a shared server;
- ``stack``: the product as production runs it (gunicorn, two django-q2 clusters, the Wix
  stand-in, the switchable SMTP server of ``common.smtp_sink``), with the run's settings;
- ``load``: clients of the product over HTTP (the REST API, the client's proposal page);
- ``faults``: the fault matrix, each fault switched on and off around a share of the load;
- ``measure``: what each fault did, counted from the database, the SMTP server's log and the
  load's own answers, against the targets of issue 12;
- ``report``: the printed table and ``docs/reliability.md``.
"""
