"""All runs, one list: `/runs/` (docs/dashboard.md, "All runs").

Every run the user may see (councilors.selectors.executions_visible: their own, or every run with
`councilors.view_execution`), newest first, narrowed by agent, councilor, status, severity,
requester and a date range, paginated here on the server. The page's script asks `run_row_get`
for each run an event names, so visibility and the filters are decided in one place.
"""

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from councilors.concurrency import queue_place
from councilors.models import Agent, Councilor, Execution
from councilors.run_errors import run_error_patterns, run_error_text
from councilors.selectors import VIEW_EXECUTION_PERMISSION, executions_visible, is_lookup_id
from dashboard.app_settings import app_settings
from dashboard.selectors import ID_PLACEHOLDER, page_links
from dashboard.templatetags.runs import severity_label, status_label
from infrastructure.timestamps import iso_utc_or_none

FILTERS = ("agent", "councilor", "status", "severity", "requester", "since", "until")
DATES_REVERSED = _("The end date is before the start date.")
ANY = ("", _("any"))


class RunsFilter(forms.Form):
    """The filters of `/runs/`, from the query string; a bad value is said beside its field and not applied."""

    agent = forms.ChoiceField(label=_("Agent"), required=False)
    councilor = forms.ChoiceField(label=_("Councilor"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    severity = forms.ChoiceField(label=_("Severity"), required=False)
    requester = forms.CharField(label=_("Asked by"), required=False, max_length=150)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data: Any, *, sees_all: bool) -> None:
        super().__init__(data)
        self.fields["agent"].choices = [
            ANY,
            *((agent.agent_id, agent.label) for agent in Agent.objects.order_by("agent_id")),
        ]
        councilors = Councilor.objects.select_related("agent").order_by("agent__agent_id")
        self.fields["councilor"].choices = [ANY, *((c.councilor_id, c.title) for c in councilors)]
        # The models' labels are English: the pages' own words for them (the agent page's filters' too).
        self.fields["status"].choices = [ANY, *((value, status_label(value)) for value in Execution.Status.values)]
        self.fields["severity"].choices = [
            ANY,
            *((value, severity_label(value)) for value in Execution.Severity.values),
        ]
        if not sees_all:  # they see only their own runs: there is no one else to pick
            del self.fields["requester"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", DATES_REVERSED)
        return cleaned

    def applied(self) -> dict[str, Any]:
        """The filters that are valid and set (the others are ignored, and said so by the form)."""
        self.is_valid()
        return {name: value for name, value in getattr(self, "cleaned_data", {}).items() if value not in ("", None)}


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def runs_filtered(*, user: AbstractBaseUser, filters: dict[str, Any]) -> QuerySet[Execution]:
    """The runs `user` may see, narrowed by the applied filters (dates are whole days, both ends included)."""
    runs = executions_visible(user=user)
    lookups = {
        "agent": "agent__agent_id",
        "councilor": "councilor__agent__agent_id",
        "status": "status",
        "severity": "severity",
        "requester": "requested_by__username",
    }
    runs = runs.filter(**{lookups[name]: value for name, value in filters.items() if name in lookups})
    if "since" in filters and filters["since"] > date.min:  # the first day there is starts before every run
        runs = runs.filter(started_at__gte=_day_start(filters["since"]))
    if "until" in filters and filters["until"] < date.max:  # the last day there is ends after every run
        runs = runs.filter(started_at__lt=_day_start(filters["until"] + timedelta(days=1)))
    return runs


def run_row(execution: Execution) -> dict[str, Any]:
    """One run as the table shows it (rendered here, or built by static/js/runs/main.js from the JSON)."""
    agent, councilor, requester = execution.agent, execution.councilor, execution.requested_by
    return {
        "execution_id": execution.execution_id,
        "run_number": execution.run_number,
        "agent_id": agent.agent_id,
        "agent_name": agent.label,
        "emoji": agent.emoji,
        "councilor": councilor.title if councilor else None,
        "status": execution.status,
        "severity": execution.severity or None,
        "queue_place": queue_place(execution),
        "attempt": execution.attempt,
        "max_attempts": execution.max_attempts,
        "requested_by": requester.get_username() if requester else None,
        "scheduled": execution.scheduled_for is not None,
        "started_at": iso_utc_or_none(execution.started_at),
        "duration_ms": execution.duration_ms,
        "error": run_error_text(execution.error),
    }


def _query(filters: dict[str, Any]) -> str:
    return urlencode({name: value.isoformat() if isinstance(value, date) else value for name, value in filters.items()})


def runs_page_get(*, user: AbstractBaseUser, query: Any) -> dict[str, Any]:
    """What `/runs/` shows: the filter form (with any errors), one page of rows, links to the others."""
    sees_all = user.has_perm(VIEW_EXECUTION_PERMISSION)
    form = RunsFilter(query, sees_all=sees_all)
    filters = form.applied()
    page: Page = Paginator(runs_filtered(user=user, filters=filters), app_settings.RUNS_PAGE_SIZE).get_page(
        query.get("page")
    )
    query_string = _query(filters)
    return {
        "form": form,
        "runs": page,
        "rows": [run_row(execution) for execution in page.object_list],
        "query": query_string,
        "filtered": bool(filters),
        "config": {
            **page_links(),
            "filters": query_string,
            "firstPage": page.number == 1,
            "rowUrl": reverse("runs_row", kwargs={"execution_id": ID_PLACEHOLDER}),
            "runErrorPatterns": run_error_patterns(),
        },
    }


def run_row_get(*, execution_id: str, user: AbstractBaseUser, query: Any) -> dict[str, Any] | None:
    """The row of one run for the live table: None when `user` may not see it or it is outside the filters."""
    if not is_lookup_id(execution_id):
        return None
    filters = RunsFilter(query, sees_all=user.has_perm(VIEW_EXECUTION_PERMISSION)).applied()
    execution = runs_filtered(user=user, filters=filters).filter(execution_id=execution_id).first()
    return run_row(execution) if execution is not None else None
