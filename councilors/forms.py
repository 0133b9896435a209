"""Admin forms: friendlier widgets, and the validators' own messages instead of Django's generic ones."""

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from councilors import validators
from councilors.models import Agent, Councilor

RUNNER_CONFIG_NOT_JSON = 'Runner settings are not valid JSON (%(reason)s); e.g. {"argv": ["python", "--version"]}.'
COLOR_REQUIRED = "Choose a colour as #rrggbb (six hex digits), e.g. #4f46e5."
SCHEDULE_REQUIRED = "Enter a schedule: an interval such as 30m, 1h or 2d, or a 5-field cron expression."


class ReasonedJSONField(forms.JSONField):
    """A JSON field whose parse error says where the JSON is broken."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value.strip():
            try:
                json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValidationError(RUNNER_CONFIG_NOT_JSON, code="invalid", params={"reason": exc}) from exc
        return super().to_python(value)


class LinesField(forms.CharField):
    """A list of strings edited as a textarea, one item per line; blank lines are dropped."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:
        return [line.strip() for line in (value or "").splitlines() if line.strip()]


class AgentForm(forms.ModelForm):
    runner_config = ReasonedJSONField(
        required=False,
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


class CouncilorForm(forms.ModelForm):
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
        }

    def clean_notification_channels(self) -> list[str]:
        # Form fields skip validators on empty values, so run the model's rule here.
        channels = self.cleaned_data["notification_channels"]
        validators.validate_notification_channels(channels)
        return channels
