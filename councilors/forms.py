"""Admin forms: friendlier widgets, and the validators' own messages instead of Django's generic ones."""

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.forms.fields import InvalidJSONInput

from councilors import validators
from councilors.models import Agent, Councilor
from infrastructure.text import unstorable_anywhere

RUNNER_CONFIG_NOT_JSON = 'Runner settings are not valid JSON (%(reason)s); e.g. {"argv": ["python", "--version"]}.'
COLOR_REQUIRED = "Choose a colour as #rrggbb (six hex digits), e.g. #4f46e5."
SCHEDULE_REQUIRED = "Enter a schedule: an interval such as 30m, 1h or 2d, or a 5-field cron expression."
AGENT_HELP = (
    "Only agents that are not councilors yet are offered (an agent has at most one councilor). "
    "Create the agent first under Agents, or promote one there."
)
AGENT_TAKEN = "That agent is already a councilor (or no longer exists): choose another, or edit its councilor."
# What the agent does with a prompt, per runner (councilors/runners/).
PROMPT_USE = (
    "command: on its stdin and in $CONDUCTOR_PROMPT (or as a whole {prompt} argument); "
    'http: sent as "prompt" in the JSON body; python: the callable\'s first argument.'
)
TASK_PROMPT_HELP = (
    "What the councilor asks its agent to do on every run. "
    + PROMPT_USE
    + f" Required (1 to {validators.PROMPT_MAX_LENGTH:,} characters) even for an agent that ignores it: "
    "it is kept with each run, so the history says what was asked."
)
RUN_PROMPT_HELP = "What this run asks the agent to do. " + PROMPT_USE
INSTANCE_ID_HELP = "Optional: the instance this run is for, kept with the run and in its events."
INSTANCE_ID_MAX_LENGTH = 120


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
                raise ValidationError(RUNNER_CONFIG_NOT_JSON, code="invalid", params={"reason": exc}) from exc
        converted = super().to_python(value)
        if unstorable_anywhere(converted):
            raise ValidationError(validators.TEXT_UNSTORABLE, code="unstorable")
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
                self.add_error(name, ValidationError(validators.TEXT_UNSTORABLE, code="unstorable"))
        return cleaned


class AgentForm(StorableTextMixin, forms.ModelForm):
    runner_config = ReasonedJSONField(
        required=False,
        initial=dict,  # a new agent starts from `{}` (the model's default), not the text `null`
        help_text=Agent._meta.get_field("runner_config").help_text,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    avatar_url = forms.URLField(required=False, assume_scheme="https")

    class Meta:
        model = Agent
        fields = "__all__"
        error_messages = {"color": {"required": COLOR_REQUIRED}}

    def clean_runner_config(self) -> Any:
        # An emptied textarea means "no settings", which the runner's own check then explains.
        value = self.cleaned_data["runner_config"]
        return {} if value is None else value


class CouncilorForm(StorableTextMixin, forms.ModelForm):
    notification_channels = forms.MultipleChoiceField(
        choices=[(channel, channel) for channel in validators.NOTIFICATION_CHANNELS],
        widget=forms.CheckboxSelectMultiple,
        # Not `required`: the validator's message ("Choose at least one…") is clearer than "This field is required."
        required=False,
    )
    context_files = LinesField(required=False, help_text="Paths given to the agent as context, one per line.")

    class Meta:
        model = Councilor
        fields = "__all__"
        error_messages = {
            "task_prompt": {"required": validators.PROMPT_EMPTY},
            "schedule_value": {"required": SCHEDULE_REQUIRED},
            "agent": {"invalid_choice": AGENT_TAKEN},
        }
        help_texts = {"agent": AGENT_HELP, "task_prompt": TASK_PROMPT_HELP}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "agent" in self.fields:
            # One councilor per agent: offer the free agents, and this councilor's own on a change.
            free = Q(councilor__isnull=True)
            if self.instance.pk:
                free |= Q(pk=self.instance.agent_id)
            self.fields["agent"].queryset = Agent.objects.filter(free)

    def clean_notification_channels(self) -> list[str]:
        # Form fields skip validators on empty values, so run the model's rule here.
        channels = self.cleaned_data["notification_channels"]
        validators.validate_notification_channels(channels)
        return channels


class AgentRunForm(StorableTextMixin, forms.Form):
    """The admin's "Run now" of an agent: the prompt to run it with."""

    prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "class": "vLargeTextField"}),
        required=False,  # the validator's own message, not "This field is required."
        help_text=RUN_PROMPT_HELP,
    )
    instance_id = forms.CharField(
        max_length=INSTANCE_ID_MAX_LENGTH,
        required=False,
        help_text=INSTANCE_ID_HELP,
        widget=forms.TextInput(attrs={"class": "vTextField"}),
    )

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data["prompt"]
        validators.validate_prompt(prompt)
        return prompt
