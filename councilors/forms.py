"""Admin forms: friendlier widgets, and the validators' own messages instead of Django's generic ones.

Messages are English constants (the tests read them) marked for the catalogue, shown in the admin's
language: translated when raised, or lazily where a class attribute holds them.
"""

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.forms.fields import InvalidJSONInput
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy, gettext_noop

from councilors import validators
from councilors.models import Agent, Councilor, default_notification_channels
from infrastructure.text import unstorable_anywhere

RUNNER_CONFIG_NOT_JSON = gettext_noop(
    "Runner settings are not valid JSON (look at line %(line)d, column %(column)d); "
    'e.g. {"argv": ["python", "--version"]}.'
)
COLOR_REQUIRED = gettext_noop("Choose a colour as #rrggbb (six hex digits), e.g. #4f46e5.")
SCHEDULE_REQUIRED = gettext_noop("Enter a schedule: an interval such as 30m, 1h or 2d, or a 5-field cron expression.")
AGENT_HELP = gettext_noop(
    "Only agents that are not councilors yet are offered (an agent has at most one councilor). "
    "Create the agent first under Agents, or promote one there."
)
AGENT_TAKEN = gettext_noop(
    "That agent is already a councilor (or no longer exists): choose another, or edit its councilor."
)
CHANNELS_FOR_NOTIFY = gettext_noop(
    "You ticked notify on %(outcomes)s: choose where those notifications go (panel, toast or email)."
)
# What the agent does with a prompt, per runner (councilors/runners/).
PROMPT_USE = gettext_lazy(
    "command: on its stdin and in $CONDUCTOR_PROMPT (or as a whole {prompt} argument); "
    'http: sent as "prompt" in the JSON body; python: the callable\'s first argument.'
)
TASK_PROMPT_HELP = format_lazy(
    "{} {} {}",
    gettext_lazy("What the councilor asks its agent to do on every run."),
    PROMPT_USE,
    format_lazy(
        gettext_lazy(
            "Required (1 to {limit} characters) even for an agent that ignores it: "
            "it is kept with each run, so the history says what was asked."
        ),
        limit=validators.PROMPT_MAX_LENGTH,
    ),
)
RUN_PROMPT_HELP = format_lazy("{} {}", gettext_lazy("What this run asks the agent to do."), PROMPT_USE)
INSTANCE_ID_HELP = gettext_lazy("Optional: the instance this run is for, kept with the run and in its events.")
CONTEXT_FILES_HELP = gettext_lazy("Paths given to the agent as context, one per line.")
INSTANCE_ID_MAX_LENGTH = 120
# The channels' names in the form (their values are what the settings and the API keep).
CHANNEL_LABELS = {
    "panel": gettext_lazy("Panel (the dashboard's alert list)"),
    "toast": gettext_lazy("Toast (a pop-up on open dashboards)"),
    "email": gettext_lazy("Email"),
}
# The outcomes a councilor may notify on, by the form field that ticks each.
NOTIFY_FIELDS = {
    "notify_on_success": gettext_noop("success"),
    "notify_on_warning": gettext_noop("warning"),
    "notify_on_error": gettext_noop("error"),
}


class ReasonedJSONField(forms.JSONField):
    """A JSON field whose parse error says where the JSON is broken, and that refuses text the database cannot store."""

    def prepare_value(self, value: Any) -> Any:
        # Shown again as the escapes the admin typed: a lone surrogate cannot be written into the page.
        if not isinstance(value, InvalidJSONInput) and unstorable_anywhere(value):
            return json.dumps(value, cls=self.encoder)
        return super().prepare_value(value)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value.strip():
            try:
                json.loads(value)
            except json.JSONDecodeError as exc:
                where = {"line": exc.lineno, "column": exc.colno}
                raise ValidationError(gettext(RUNNER_CONFIG_NOT_JSON), code="invalid", params=where) from exc
        converted = super().to_python(value)
        if unstorable_anywhere(converted):
            raise ValidationError(gettext(validators.TEXT_UNSTORABLE), code="unstorable")
        return converted


class LinesField(forms.CharField):
    """A list of strings edited as a textarea, one item per line; blank lines are dropped."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:
        return [line.strip() for line in (value or "").splitlines() if line.strip()]


class StorableTextMixin:
    """Every field's value must be text the database can store: a NUL or a lone surrogate (which a
    JSON escape such as "\\ud800" in the runner settings makes) is refused on its field, not left
    to fail when the row or a run of it is written."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name, value in list(cleaned.items()):
            if unstorable_anywhere(value):
                self.add_error(name, ValidationError(gettext(validators.TEXT_UNSTORABLE), code="unstorable"))
        return cleaned


class AgentForm(StorableTextMixin, forms.ModelForm):
    runner_config = ReasonedJSONField(
        required=False,
        label=gettext_lazy("Runner settings"),
        initial=dict,  # a new agent starts from `{}` (the model's default), not the text `null`
        help_text=Agent._meta.get_field("runner_config").help_text,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    avatar_url = forms.URLField(required=False, assume_scheme="https", label=gettext_lazy("Avatar URL"))

    class Meta:
        model = Agent
        fields = "__all__"
        error_messages = {"color": {"required": gettext_lazy(COLOR_REQUIRED)}}

    def clean_runner_config(self) -> Any:
        # An emptied textarea means "no settings", which the runner's own check then explains.
        value = self.cleaned_data["runner_config"]
        return {} if value is None else value


class CouncilorForm(StorableTextMixin, forms.ModelForm):
    notification_channels = forms.MultipleChoiceField(
        label=gettext_lazy("Notification channels"),
        choices=[(channel, CHANNEL_LABELS[channel]) for channel in validators.NOTIFICATION_CHANNELS],
        widget=forms.CheckboxSelectMultiple,
        # A new councilor starts with the model's default ticked, as the notify boxes above it are
        # (a form field declared here does not take the model field's default by itself).
        initial=default_notification_channels,
        # Not `required`: the validator's message ("Choose at least one…") is clearer than "This field is required."
        required=False,
    )
    context_files = LinesField(required=False, label=gettext_lazy("Context files"), help_text=CONTEXT_FILES_HELP)

    class Meta:
        model = Councilor
        fields = "__all__"
        error_messages = {
            "task_prompt": {"required": gettext_lazy(validators.PROMPT_EMPTY)},
            "schedule_value": {"required": gettext_lazy(SCHEDULE_REQUIRED)},
            "agent": {"invalid_choice": gettext_lazy(AGENT_TAKEN)},
        }
        help_texts = {"agent": gettext_lazy(AGENT_HELP), "task_prompt": TASK_PROMPT_HELP}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "agent" in self.fields:
            # One councilor per agent: offer the free agents, and this councilor's own on a change.
            free = Q(councilor__isnull=True)
            if self.instance.pk:
                free |= Q(pk=self.instance.agent_id)
            self.fields["agent"].queryset = Agent.objects.filter(free)

    def clean_notification_channels(self) -> list[str]:
        # Form fields skip validators on empty values, so run the model's rule here; with notify
        # boxes ticked (cleaned before: they come first), the message says which ones want a channel.
        channels = self.cleaned_data["notification_channels"]
        ticked = [gettext(outcome) for name, outcome in NOTIFY_FIELDS.items() if self.cleaned_data.get(name)]
        if not channels and ticked:
            outcomes = ", ".join(ticked)
            raise ValidationError(gettext(CHANNELS_FOR_NOTIFY), code="channels_empty", params={"outcomes": outcomes})
        validators.validate_notification_channels(channels)
        return channels


class AgentRunForm(StorableTextMixin, forms.Form):
    """The admin's "Run now" of an agent: the prompt to run it with."""

    prompt = forms.CharField(
        label=gettext_lazy("Prompt"),
        widget=forms.Textarea(attrs={"rows": 4, "class": "vLargeTextField"}),
        required=False,  # the validator's own message, not "This field is required."
        help_text=RUN_PROMPT_HELP,
    )
    instance_id = forms.CharField(
        label=gettext_lazy("Instance id"),
        max_length=INSTANCE_ID_MAX_LENGTH,
        required=False,
        help_text=INSTANCE_ID_HELP,
        widget=forms.TextInput(attrs={"class": "vTextField"}),
    )

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data["prompt"]
        validators.validate_prompt(prompt)
        return prompt
