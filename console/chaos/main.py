"""The inner process of ``manage.py chaos``: runs with the product's environment and database."""

import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import django
from django.conf import settings

from common import benchkit
from console.chaos import report
from console.chaos.faults import matrix
from console.chaos.postgres import OwnPostgres
from console.chaos.run import Run
from console.chaos.stack import Ports, Stack


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, f"{url} names no port"  # the outer command writes them all with one
    return port


def _ports() -> Ports:
    return Ports(
        web=_port(settings.SITE_URL),
        smtp=int(settings.EMAIL_PORT),
        wix=_port(settings.WIX_API_BASE_URL),
    )


def _versions() -> dict[str, str]:
    import gunicorn

    return {"django": django.get_version(), "gunicorn": gunicorn.__version__}


def inner(options: dict, *, stdout) -> int:
    if not os.environ.get("CHAOS_PG_ROOT"):
        stdout.write("--inner is started by manage.py chaos itself")
        return 2
    base_dir = Path(settings.BASE_DIR)
    tmp = Path(options["inner"])
    postgres = OwnPostgres(
        root=Path(os.environ["CHAOS_PG_ROOT"]), port=int(os.environ["CHAOS_PG_PORT"])
    )
    stack = Stack(
        base_dir=base_dir,
        tmp=tmp,
        env=dict(os.environ),
        ports=_ports(),
        web_workers=options["web_workers"],
    )

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    started_at = datetime.now(UTC)
    started = time.monotonic()
    facts = benchkit.machine_facts(base_dir=base_dir, versions=_versions())
    options["command"] = os.environ.get("CHAOS_COMMAND", "make chaos")
    try:
        stdout.write("Starting gunicorn, two django-q2 clusters, the Wix stand-in, SMTP…")
        stack.start()
        rss = {"start": stack.rss()}
        run = Run(stack=stack, postgres=postgres, options=options)
        if options["soak_seconds"]:
            from console.chaos.soak import soak

            text, met = soak(run, seconds=options["soak_seconds"], facts=facts, stdout=stdout)
        else:
            scale = options["time_scale"]
            faults = matrix(outage_seconds=600 * scale, scale=scale)
            if options["only"]:
                wanted = {n.strip().lower() for n in options["only"].split(",")}
                faults = [f for f in faults if f.name.lower() in wanted or f.name == "baseline"]
            plan = run.plan(faults, count=options["count"])
            stdout.write(
                f"{sum(n for _, n in plan)} proposals over {len(plan)} phases at "
                f"{options['rate']:g}/s, time scale {scale:g}"
            )
            results = run.run(
                plan,
                progress=lambda text: stdout.write(f"[{time.monotonic() - started:4.0f} s] {text}"),
            )
            dead = stack.dead()
            if dead:
                stdout.write(f"Processes that died during the run: {', '.join(dead)}")
            rss["end"] = stack.rss()
            text = report.render(
                results=results,
                facts=facts,
                options=options,
                started=started_at.strftime("%Y-%m-%d %H:%M"),
                seconds=time.monotonic() - started,
                load_end=benchkit.load_average(),
                rss=rss,
            )
            met = report.all_met(results)
        stdout.write("\n" + text + "\n")
        if not options["no_report"]:
            mode = "soak" if options["soak_seconds"] else "quick" if options["quick"] else "full"
            start, end, heading = report.BLOCKS[mode]
            benchkit.write_between_markers(
                base_dir / "docs" / "reliability.md",
                start=start,
                end=end,
                body=text,
                heading=heading,
            )
            stdout.write("Written to docs/reliability.md")
        stdout.write("All targets met." if met else "TARGETS MISSED (see the table above).")
        return 0 if met else 3
    except KeyboardInterrupt:
        return 130
    finally:
        stack.stop()
        sys.stdout.flush()
