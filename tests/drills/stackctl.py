"""Set-up steps the drills run inside the app, against the drill's own database.

    python -m tests.drills.stackctl setup
    python -m tests.drills.stackctl seed CASES
    python -m tests.drills.stackctl transition RAPID_THRESHOLD VIP_THRESHOLD_GBP

Run by tests/drills/stack.py with the stack's environment (DATABASE_URL, REDIS_URL...),
never by pytest itself; each command prints one JSON document.
"""

import io
import json
import sys
from decimal import Decimal

import django

PASSWORD = "drill-password-2020"  # the same as tests/drills/stack.py
USERS = {
    "cw.ada": "caseworker",
    "cw.ben": "caseworker",
    "mgr.cleo": "manager",
    "mgr.dev": "manager",
}


def setup() -> dict:
    """Migrate the empty database, make the drill's people and an intake API token
    (with `manage.py create_api_token`, which prints it once)."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    password = make_password(PASSWORD)  # hashed once: each hash costs half a second
    for username, role in USERS.items():
        user = User.objects.create(
            username=username,
            password=password,
            email=f"{username}@example.gov.uk",
            first_name=username.split(".")[1].title(),
            last_name="Drill",
        )
        user.groups.add(Group.objects.get(name=role))
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "fault drills", stdout=out, stderr=err)
    return {"users": USERS, "token": out.getvalue().strip()}


def seed(cases: int) -> dict:
    """`seed_demo --cases N`, routed under a policy that sends every eligible offer to
    Rapid Response, so most of the cases stay in train for the transition drill; the
    starting policy is active again afterwards."""
    from django.core.management import call_command

    from triage.models import RoutingPolicy

    starting = RoutingPolicy.objects.get(is_active=True)
    latest = RoutingPolicy.objects.order_by("-version").first()
    RoutingPolicy.objects.filter(pk=starting.pk).update(is_active=False)
    seeding = RoutingPolicy.objects.create(
        version=latest.version + 1,
        rapid_threshold=0,
        vip_value_threshold_gbp=starting.vip_value_threshold_gbp,
        sla_days=starting.sla_days,
        rationale="Fault drill seeding: every eligible offer to Rapid Response.",
        is_active=True,
    )
    call_command("seed_demo", cases=cases, force=True, stdout=io.StringIO())
    RoutingPolicy.objects.filter(pk=seeding.pk).update(is_active=False)
    RoutingPolicy.objects.filter(pk=starting.pk).update(is_active=True)
    return {"cases": cases}


def transition(rapid_threshold: int, vip_threshold: Decimal) -> dict:
    """A manager drafts a routing policy and applies it: the job goes to the worker after
    commit. Returns the job and, per case in train, the queue the new policy picks for
    it, worked out beforehand by the preview's own SQL."""
    from django.contrib.auth.models import User

    from triage import routing_services as rs

    manager = User.objects.get(username="mgr.cleo")
    active = rs.routing_policy_active()
    policy = rs.routing_policy_create(
        acting_user=manager,
        rapid_threshold=rapid_threshold,
        vip_value_threshold_gbp=vip_threshold,
        sla_days=active.sla_days,
        rationale="Fault drill: a worker is killed while this policy moves the cases.",
    )
    preview = rs.routing_policy_preview(policy, sample_size=0)
    targets = {
        str(pk): [queue, target]
        for pk, queue, target in rs.with_routing_facts(rs.transition_queryset())
        .annotate(target=rs.routing_target_sql(rs.routing_rules(policy)))
        .values_list("pk", "queue", "target")
    }
    job = rs.routing_policy_apply(policy_id=policy.pk, acting_user=manager)
    return {
        "job_id": job.pk,
        "total": job.total,
        "moving": preview.moving,
        "policy_version": policy.version,
        "targets": targets,
    }


def main(argv: list[str]) -> None:
    django.setup()
    command, *args = argv
    if command == "setup":
        result = setup()
    elif command == "seed":
        result = seed(int(args[0]))
    elif command == "transition":
        result = transition(int(args[0]), Decimal(args[1]))
    else:
        raise SystemExit(f"unknown command {command!r}")
    sys.stdout.write(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
