"""``hitl access rabbitmq ROLE`` and ``hitl access redis``: the least-privilege permissions of
each hitl role, printed as the commands that grant them (``hitl.core.access``,
docs/security.md). Nothing is changed: an operator reads and runs them."""

import click

from hitl.cli.common import examples
from hitl.core.access import (
    ROLES,
    Role,
    permissions,
    rabbitmqctl_lines,
    redis_acl_setuser,
)
from hitl_contract.wire import DEFAULT_NAMESPACE, Names


def register(app: click.Group) -> None:
    app.add_command(access)


@click.group(
    help="Print the permissions each hitl role needs (docs/security.md).",
    epilog=examples("hitl access rabbitmq broker --vhost hitl", "hitl access redis"),
)
def access() -> None:
    pass


@access.command(
    help="Print the rabbitmqctl commands that give USER (default: hitl-ROLE; a producer's: "
    "its service) exactly what ROLE needs in NAMESPACE: configure, write and read regexes, "
    "and topic permissions on the outcomes exchange (a producer reads only its own outcomes).",
    epilog=examples(
        "hitl access rabbitmq broker --vhost hitl",
        "hitl access rabbitmq producer --service billing --vhost hitl",
        "hitl access rabbitmq gateway --namespace prod --user gw --vhost hitl | sh",
    ),
)
@click.argument("role", type=click.Choice(ROLES))
@click.option("--namespace", default=DEFAULT_NAMESPACE, show_default=True)
@click.option("--vhost", default="/", show_default=True)
@click.option("--user", help="The RabbitMQ user (default: hitl-ROLE, or the service).")
@click.option("--service", help="A producer's service name (HitlClient.connect(service=...)).")
@click.option(
    "--cancel",
    is_flag=True,
    help="A producer may also cancel its requests (HitlClient.cancel): write on responses.",
)
def rabbitmq(
    role: Role,
    namespace: str,
    vhost: str,
    user: str | None,
    service: str | None,
    cancel: bool,
) -> None:
    if role == "producer" and not service:
        raise click.UsageError("a producer's permissions need --service (its reply queue)")
    if role != "producer" and (service or cancel):
        raise click.UsageError("--service and --cancel are a producer's options")
    perms = permissions(role, Names(namespace), service=service, cancel=cancel)
    who = user or (service if role == "producer" and service else f"hitl-{role}")
    for line in rabbitmqctl_lines(who, vhost, perms):
        click.echo(line)


@access.command(
    help="Print the ACL SETUSER command of a Redis user that may run only what hitl runs, on "
    "the keys of NAMESPACE only, to paste into redis-cli. Replace >PASSWORD, or give the "
    "rule with --password ('>secret' or '#<sha256 hex>').",
    epilog=examples(
        "hitl access redis",
        "hitl access redis --namespace prod --user hitl-prod",
    ),
)
@click.option("--namespace", default=DEFAULT_NAMESPACE, show_default=True)
@click.option("--user", default="hitl", show_default=True)
@click.option("--password", default=">PASSWORD", show_default=True, help="The rule that sets it.")
def redis(namespace: str, user: str, password: str) -> None:
    click.echo(" ".join(redis_acl_setuser(user, password, namespace)))
