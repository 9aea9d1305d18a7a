"""The pages and endpoints the benchmark measures, built from the setup step's state."""

from dataclasses import dataclass

from console.bench.base import NO_MATCH_SEARCH, BenchError


@dataclass
class Target:
    name: str
    path: str
    auth: str = ""  # "api:<business>" | "session:<business>" | "staff" | ""
    admin: bool = False
    kind: str = "get"  # "get" | "webhook" | "webhook_rate"
    description: str = ""


def build_targets(state: dict, deep_path: str | None) -> list[Target]:
    big = state["biggest"]
    targets = [
        Target(
            "api_detail",
            f"/api/v1/proposals/{big['proposal_id']}/",
            "api:biggest",
            description="API detail, biggest business",
        ),
        Target(
            "api_list_big",
            "/api/v1/proposals/?limit=25",
            "api:biggest",
            description="API list (25), biggest business",
        ),
        Target(
            "api_list_typical",
            "/api/v1/proposals/?limit=25",
            "api:typical",
            description="API list (25), a typical business",
        ),
        Target(
            "api_list_search",
            f"/api/v1/proposals/?limit=25&status=sent&search={big['search']}",
            "api:biggest",
            description="API list, status=sent + search matching a client, biggest",
        ),
        Target(
            "api_list_nomatch",
            f"/api/v1/proposals/?limit=25&status=sent&search={NO_MATCH_SEARCH}",
            "api:biggest",
            description="API list, status=sent + search matching nothing, biggest",
        ),
        Target(
            "dash_list",
            "/app/",
            "session:biggest",
            description="dashboard list page 1, biggest business",
        ),
    ]
    if deep_path:
        targets.append(
            Target(
                "dash_list_deep",
                deep_path,
                "session:biggest",
                description="dashboard list, deep page, biggest business",
            )
        )
    targets += [
        Target(
            "dash_list_typical",
            "/app/",
            "session:typical",
            description="dashboard list page 1, a typical business",
        ),
        Target(
            "dash_detail",
            f"/app/proposals/{big['proposal_id']}/",
            "session:biggest",
            description="dashboard proposal page, biggest business",
        ),
        Target(
            "client_page",
            f"/p/{big['token']}",
            "",
            description="client proposal page (/p/<token>), biggest business",
        ),
        Target(
            "webhook",
            "/integrations/wix/webhooks/",
            kind="webhook",
            description="signed webhook ingest (ack), as fast as it goes",
        ),
        Target(
            "webhook_200",
            "/integrations/wix/webhooks/",
            kind="webhook_rate",
            description="signed webhook ingest at a fixed rate (200/s)",
        ),
        Target(
            "support_page",
            f"/admin/accounts/business/{big['id']}/support/",
            "staff",
            admin=True,
            description="business support page, biggest business",
        ),
    ]
    for label, query in state["support_queries"].items():
        targets.append(
            Target(
                f"support_search_{label}",
                f"/admin/support/search/?q={query}",
                "staff",
                admin=True,
                description=f"support search by {label}",
            )
        )
    for name, url in state["changelists"]:
        targets.append(
            Target(
                f"admin_{name}", url, "staff", admin=True, description=f"admin changelist {name}"
            )
        )
    return targets


def select_targets(targets: list[Target], only: list[str] | None) -> list[Target]:
    if not only:
        return targets
    names = [n for part in only for n in part.split(",") if n]
    chosen = [
        t
        for t in targets
        if any(t.name == n or (n.endswith("_") and t.name.startswith(n)) for n in names)
    ]
    unknown = [
        n
        for n in names
        if not any(t.name == n or (n.endswith("_") and t.name.startswith(n)) for t in targets)
    ]
    if unknown:
        raise BenchError(
            f"Unknown target(s) {', '.join(unknown)}; known: {', '.join(t.name for t in targets)}"
        )
    return chosen
