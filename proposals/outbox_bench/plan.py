"""The plan of a run (floor, burst, paced and kill steps per queue) and the targets it must meet."""

from dataclasses import dataclass, field

from django.core.management.base import CommandError

from common import benchkit


@dataclass
class Step:
    """One step of the plan; ``data`` holds what the suite prepared for it."""

    kind: str  # "floor" | "burst" | "paced" | "kill"
    count: int
    workers: int | None = None
    rate: float | None = None
    tag: str = ""
    data: dict = field(default_factory=dict)


def parse_workers(text: str) -> list[int]:
    try:
        workers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise CommandError("--workers takes numbers separated by commas, e.g. 2,4") from None
    if not workers or min(workers) < 1:
        raise CommandError("--workers takes positive numbers, e.g. 2,4")
    return workers


def build_plan(suite_cls, options: dict) -> list[Step]:
    """Each burst right after a floor of the same size; then paced runs; then the kill run."""
    count = options["count"] or suite_cls.default_count
    workers = parse_workers(options["workers"])
    steps = options["steps"]
    plan: list[Step] = []
    if "burst" in steps:
        for n in workers:
            if "floor" in steps:
                plan.append(Step("floor", count))
            plan.append(Step("burst", count, workers=n))
    elif "floor" in steps:
        plan.append(Step("floor", count))
    if "paced" in steps and getattr(suite_cls, "supports_paced", False):
        paced = max(1, round(options["rate"] * options["paced_seconds"]))
        for n in workers:
            plan.append(Step("paced", paced, workers=n, rate=options["rate"]))
    if "kill" in steps and getattr(suite_cls, "supports_kill", False):
        kill_count = options["kill_count"] or min(count, 2000)
        plan.append(Step("kill", kill_count, workers=min(workers)))
    return plan


def targets_met(results: list[benchkit.StepResult], *, floor_share: float = 0.5) -> list[list]:
    """The issue's targets, judged on this run's figures (a row per target measured)."""
    rows: list[list] = []
    by: dict[tuple[str, str], list[benchkit.StepResult]] = {}
    for result in results:
        by.setdefault((result.queue, result.step), []).append(result)
    for result in by.get(("deliveries", "burst"), []):
        ok = result.per_second >= 200 and (result.ratio or 0) >= floor_share
        rows.append(
            [
                f"deliveries burst {result.count:,}, {result.workers} workers",
                "≥ 200/s and ≥ 50% of the floor",
                f"{result.per_second:.1f}/s, {result.ratio or 0:.0%} of the floor",
                ok,
            ]
        )
    for result in by.get(("deliveries", "paced"), []):
        p95, p99 = result.latency.get("p95"), result.latency.get("p99")
        ok = p95 is not None and p99 is not None and p95 <= 1000 and p99 <= 2000
        rows.append(
            [
                f"deliveries paced {result.offered_rate:g}/s, {result.workers} workers",
                "p95 ≤ 1 s, p99 ≤ 2 s",
                f"p95 {benchkit.fmt_ms(p95)}, p99 {benchkit.fmt_ms(p99)}",
                ok,
            ]
        )
    for queue in dict.fromkeys(q for q, _ in by):  # in the order they ran
        bursts = sorted(by.get((queue, "burst"), []), key=lambda r: r.workers or 0)
        if len(bursts) >= 2:
            low, high = bursts[0], bursts[-1]
            rows.append(
                [
                    f"{queue}: {high.workers} workers vs {low.workers}",
                    f"{high.workers} workers ≥ {low.workers} workers (CPU to spare)",
                    f"{high.per_second:.1f}/s vs {low.per_second:.1f}/s "
                    f"(load avg {high.load.split()[0]} / {low.load.split()[0]})",
                    high.per_second >= low.per_second,
                ]
            )
        if queue != "deliveries":
            for result in bursts:
                rows.append(
                    [
                        f"{queue} burst {result.count:,}, {result.workers} workers",
                        "≥ 200/s",
                        f"{result.per_second:.1f}/s",
                        result.per_second >= 200,
                    ]
                )
    pipeline = [r for r in results if r.step != "floor"]
    bad = [r for r in pipeline if (r.duplicates or 0) or (r.lost or 0)]
    rows.append(
        [
            "every pipeline run, the kill run included",
            "0 duplicates, 0 lost",
            "; ".join(f"{r.queue} {r.label()}: {r.duplicates} dup, {r.lost} lost" for r in bad)
            or "0 and 0 in every run",
            not bad and bool(pipeline),
        ]
    )
    return rows
