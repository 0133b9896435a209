"""Names of the runners in the reader's language, at the point of display.

The models' own labels (Agent.Runner's choices) are translated in a later pass, with their migration.
"""

from django.utils.translation import gettext_lazy

RUNNER_LABELS = {
    "command": gettext_lazy("Command"),
    "http": gettext_lazy("HTTP (AI-agent service)"),
    "python": gettext_lazy("Python callable"),
}


def runner_label(runner: str) -> str:
    """A runner's name in the active language (its value itself when unknown)."""
    return str(RUNNER_LABELS.get(runner, runner))
