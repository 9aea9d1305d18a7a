"""``manage.py bench_deliveries``, the outbox benchmark: ``plan`` (the steps and the targets they
are judged on) and ``runner`` (each step through a real django-q2 cluster); the suites are in
each app's ``bench.py`` (common/benchkit.py)."""
