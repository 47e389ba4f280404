"""``hitl completion SHELL``: the script that gives ``hitl`` tab completion in bash, zsh or fish
(commands, options, choices), from click's shell completion."""

import click
from click.shell_completion import get_completion_class

from hitl.cli.common import examples

SHELLS = ("bash", "zsh", "fish")


def register(app: click.Group) -> None:
    app.add_command(completion)


@click.command(
    help="Print the shell completion script for SHELL; load it from your shell's startup file.",
    epilog=examples(
        """echo 'eval "$(hitl completion bash)"' >> ~/.bashrc""",
        """echo 'eval "$(hitl completion zsh)"' >> ~/.zshrc""",
        "hitl completion fish > ~/.config/fish/completions/hitl.fish",
    ),
)
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, /, shell: str) -> None:
    root = ctx.find_root().command
    script = get_completion_class(shell)
    assert script is not None  # every shell of SHELLS has one
    click.echo(script(root, {}, "hitl", "_HITL_COMPLETE").source())
