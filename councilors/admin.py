"""Admin for agents, councilors and their execution history. Actions only parse and call services."""

from datetime import datetime

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy

from councilors import selectors, services
from councilors.admin_run import admin_actor, agent_run_view, councilor_run_message, councilor_run_view
from councilors.cancellation import CancelRefused, Outcome, execution_cancel, run_title
from councilors.forms import AgentForm, CouncilorForm
from councilors.models import ActionRecord, Agent, Councilor, Execution, RunIncident, SkippedRun
from councilors.run_errors import run_error_text
from councilors.scheduling import councilor_next_run
from councilors.verdicts import run_verdict
from infrastructure.formatting import duration_text

RECENT_EXECUTIONS = 10
# List columns show times short (the change pages show them in full), so that the columns that
# matter fit a 1280 px screen beside the admin's sidebars: "Dec 1, 04:08", a past year added.
# Django date formats, in each language's order ("1 Dez, 04:08" in Portuguese).
SHORT_TIME = pgettext_lazy("short date and time in admin lists (a Django date format)", "M j, H:i")
SHORT_TIME_OTHER_YEAR = pgettext_lazy("short date, year and time in admin lists (a Django date format)", "M j Y, H:i")


def severity_badge(severity: str | None, status: str | None = None) -> SafeString | str:
    """A run's one verdict (councilors/verdicts.py: status and severity in one wording), as the pages show it."""
    if not status and not severity:
        return "—"
    verdict = run_verdict(status or Execution.Status.COMPLETED, severity)
    return format_html('<span class="verdict tone-{}">{} {}</span>', verdict.tone, verdict.icon, verdict.label)


def _duration(duration_ms: int | None) -> str:
    return duration_text(duration_ms)


def short_time(moment: datetime | None, *, now: datetime | None = None) -> str:
    """A list column's time in the current time zone: `Dec 1, 04:08` (with the year when not this one)."""
    if moment is None:
        return "—"
    local = timezone.localtime(moment)
    this_year = timezone.localtime(now).year if now else timezone.localtime().year
    return dateformat.format(local, str(SHORT_TIME if local.year == this_year else SHORT_TIME_OTHER_YEAR))


def _page_link(url_name: str, key: str, value: str | None, text: str | None = None) -> SafeString | str:
    """A link to the live run or agent page (docs/dashboard.md, "Run page" and "Agent page")."""
    if not value:
        return "—"
    url = reverse(url_name, kwargs={key: value})
    return format_html('<a href="{}" title="{}">{}</a>', url, _("The live page"), text or _("Open page ↗"))


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    form = AgentForm
    list_display = ("label_with_emoji", "agent_id", "runner", "api_enabled", "is_councilor", "updated_at")
    list_filter = ("runner", "api_enabled")
    search_fields = ("agent_id", "name", "display_name", "description")
    prepopulated_fields = {"agent_id": ("name",)}
    actions = ["promote_to_councilor"]
    readonly_fields = ("page_link",)
    fieldsets = (
        (None, {"fields": ("agent_id", "name", "emoji", "description", "page_link")}),
        (gettext_lazy("Runner"), {"fields": ("runner", "runner_config")}),
        (gettext_lazy("Access"), {"fields": ("api_enabled", "max_concurrent")}),
        (gettext_lazy("Customization"), {"fields": ("display_name", "avatar_url", "color")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Agent]:
        return super().get_queryset(request).select_related("councilor")

    def get_urls(self) -> list[URLPattern]:
        run = path("<path:object_id>/run/", self.admin_site.admin_view(self.run_view), name="councilors_agent_run")
        return [run, *super().get_urls()]

    def run_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The agent change page's "Run now" (admin/councilors/agent/change_form.html)."""
        return agent_run_view(self, request, object_id)

    def save_model(self, request: HttpRequest, obj: Agent, form: AgentForm, change: bool) -> None:
        services.agent_save(agent=obj)

    @admin.display(description=gettext_lazy("Agent"), ordering="name")
    def label_with_emoji(self, agent: Agent) -> SafeString:
        return format_html("{} {}", agent.emoji, agent.label)

    @admin.display(description=gettext_lazy("Live page"))
    def page_link(self, agent: Agent) -> SafeString | str:
        return _page_link("agent_detail", "agent_id", agent.agent_id)

    @admin.display(description=gettext_lazy("Councilor"), boolean=True)
    def is_councilor(self, agent: Agent) -> bool:
        return hasattr(agent, "councilor")

    @admin.action(description=gettext_lazy("Promote to councilor"), permissions=["change"])
    def promote_to_councilor(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        for agent in queryset:
            if hasattr(agent, "councilor"):
                self.message_user(
                    request, _("%(agent)s is already a councilor.") % {"agent": agent.label}, messages.WARNING
                )
                continue
            try:
                councilor = services.agent_promote(agent=agent)
            except ValidationError as exc:
                reason = "; ".join(exc.messages)
                text = _("%(agent)s was not promoted: %(reason)s") % {"agent": agent.label, "reason": reason}
                self.message_user(request, text, messages.ERROR)
                continue
            url = reverse("admin:councilors_councilor_change", args=[councilor.pk])
            self.message_user(
                request,
                format_html(
                    _('{} is now a councilor (paused, every 1h): <a href="{}">set its schedule and enable it</a>.'),
                    agent.label,
                    url,
                ),
                messages.SUCCESS,
            )


class RecentExecutionsFormSet(BaseInlineFormSet):
    """Only the latest runs: the full history is on the Execution list, filtered by councilor."""

    def get_queryset(self) -> QuerySet[Execution]:
        if not hasattr(self, "_recent"):
            self._recent = super().get_queryset().order_by("-started_at")[:RECENT_EXECUTIONS]
        return self._recent


class RecentExecutionInline(admin.TabularInline):
    model = Execution
    formset = RecentExecutionsFormSet
    verbose_name_plural = format_lazy(gettext_lazy("Recent executions (latest {count})"), count=RECENT_EXECUTIONS)
    fields = ("execution_link", "severity_display", "started_at", "duration", "error_text")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Councilor | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Councilor | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Councilor | None = None) -> bool:
        return False

    @admin.display(description=gettext_lazy("Execution"))
    def execution_link(self, execution: Execution) -> SafeString:
        url = reverse("admin:councilors_execution_change", args=[execution.pk])
        return format_html('<a href="{}">{}</a>', url, execution.execution_id)

    @admin.display(description=gettext_lazy("Result"))
    def severity_display(self, execution: Execution) -> SafeString | str:
        return severity_badge(execution.severity, execution.status)

    @admin.display(description=gettext_lazy("Duration"))
    def duration(self, execution: Execution) -> str:
        return _duration(execution.duration_ms)

    @admin.display(description=gettext_lazy("Error"))
    def error_text(self, execution: Execution) -> str:
        return run_error_text(execution.error) or "—"


@admin.register(Councilor)
class CouncilorAdmin(admin.ModelAdmin):
    form = CouncilorForm
    # Narrow columns, the ones people scan first: `paused` in Next run stands for the enabled
    # flag (still a filter), the title carries the agent's emoji, the agent is on the change page.
    list_display = ("title_label", "schedule", "last_severity_display", "last_run", "next_run")
    list_display_links = ("title_label",)
    list_filter = ("enabled", "schedule_type", "output_format")
    search_fields = ("title", "agent__agent_id", "agent__name", "task_name", "task_prompt")
    list_select_related = ("agent",)
    actions = ["run_now", "pause", "resume"]
    inlines = [RecentExecutionInline]
    readonly_fields = ("page_link",)
    fieldsets = (
        (None, {"fields": ("agent", "title", "enabled", "page_link")}),
        (gettext_lazy("Schedule"), {"fields": ("schedule_type", "schedule_value")}),
        (gettext_lazy("Task"), {"fields": ("task_name", "task_prompt", "context_files", "output_format")}),
        (gettext_lazy("Retries"), {"fields": ("max_retries", "retry_backoff_s")}),
        (
            gettext_lazy("Notifications"),
            {"fields": ("notify_on_success", "notify_on_warning", "notify_on_error", "notification_channels")},
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Councilor]:
        return selectors.councilors_overview()

    def get_urls(self) -> list[URLPattern]:
        run = path("<path:object_id>/run/", self.admin_site.admin_view(self.run_view), name="councilors_councilor_run")
        return [run, *super().get_urls()]

    @admin.display(description=gettext_lazy("Live page"))
    def page_link(self, councilor: Councilor) -> SafeString | str:
        return _page_link("agent_detail", "agent_id", councilor.agent.agent_id if councilor.agent_id else None, "↗")

    def run_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The councilor change page's "Run now" (admin/councilors/councilor/change_form.html)."""
        return councilor_run_view(self, request, object_id)

    @admin.display(description=gettext_lazy("Title"), ordering="title")
    def title_label(self, councilor: Councilor) -> SafeString:
        return format_html(
            '<span title="{}">{} {}</span>', councilor.councilor_id, councilor.agent.emoji, councilor.title
        )

    @admin.display(description=gettext_lazy("Next run"), ordering="q_schedule__next_run")
    def next_run(self, councilor: Councilor) -> str:
        moment = councilor_next_run(councilor=councilor, last_started=councilor.last_started_at)
        return short_time(moment) if moment else _("paused")

    @admin.display(description=gettext_lazy("Schedule"), ordering="schedule_value")
    def schedule(self, councilor: Councilor) -> str:
        return councilor.schedule_label

    @admin.display(description=gettext_lazy("Last run"), ordering="last_started_at")
    def last_run(self, councilor: Councilor) -> SafeString:
        # Links to the councilor's live page, where its runs are listed (the list has no room for a column).
        text = short_time(councilor.last_started_at) if councilor.last_started_at else _("never")
        return _page_link("agent_detail", "agent_id", councilor.councilor_id, text)

    @admin.display(description=gettext_lazy("Last result"))
    def last_severity_display(self, councilor: Councilor) -> SafeString | str:
        return severity_badge(councilor.last_severity, councilor.last_status)

    def save_model(self, request: HttpRequest, obj: Councilor, form: CouncilorForm, change: bool) -> None:
        # The form has validated its values and put them on `obj`. The service saves it and moves
        # its django-q2 schedule along in one transaction; ticking or unticking `enabled` is a
        # resume or pause like the actions below, announced by this admin once it commits.
        services.councilor_save(councilor=obj, actor=admin_actor(request))

    @admin.action(description=gettext_lazy("Run now"), permissions=["change"])
    def run_now(self, request: HttpRequest, queryset: QuerySet[Councilor]) -> None:
        for councilor in queryset:
            councilor_run_message(self, request, councilor)

    @admin.action(description=gettext_lazy("Pause"), permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Councilor]) -> None:
        for councilor in queryset:
            services.councilor_pause(councilor=councilor, actor=admin_actor(request))
        count = len(queryset)
        text = ngettext("Paused %(count)d councilor.", "Paused %(count)d councilors.", count) % {"count": count}
        self.message_user(request, text, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Resume"), permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Councilor]) -> None:
        for councilor in queryset:
            services.councilor_resume(councilor=councilor, actor=admin_actor(request))
        count = len(queryset)
        text = ngettext("Resumed %(count)d councilor.", "Resumed %(count)d councilors.", count) % {"count": count}
        self.message_user(request, text, messages.SUCCESS)


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    """The run history: viewable, never edited (rows are written only by the run service)."""

    # What a run's row must show at 1280 px beside the admin's sidebars: when, how it went, how
    # long, whose. The id is the link's tooltip and searchable; kind and councilor are filters.
    list_display = ("started", "run_label", "severity_display", "duration", "agent_label")
    actions = ["cancel_runs"]
    # The started time links to the run's live page; the admin's own read-only copy adds nothing to it.
    list_display_links = None
    list_filter = ("status", "severity", "kind", "councilor")
    date_hierarchy = "started_at"
    search_fields = ("execution_id", "agent__agent_id", "agent__name", "output", "error")
    list_select_related = ("agent", "councilor", "requested_by")
    readonly_fields = ["page_link", *[field.name for field in Execution._meta.fields]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=gettext_lazy("Live page"))
    def page_link(self, execution: Execution) -> SafeString | str:
        return _page_link("run_detail", "execution_id", execution.execution_id, "↗")

    # Deleting stays allowed (Django's permission): otherwise an agent with history could not be deleted.
    def has_change_permission(self, request: HttpRequest, obj: Execution | None = None) -> bool:
        return False

    @admin.display(description=gettext_lazy("Started"), ordering="started_at")
    def started(self, execution: Execution) -> SafeString:
        """When, linking to the run's live page (the id shows on hover); the row's detail is in the run page."""
        url = reverse("run_detail", kwargs={"execution_id": execution.execution_id})
        return format_html(
            '<a href="{}" title="{}">{}</a>', url, execution.execution_id, short_time(execution.started_at)
        )

    @admin.display(description=gettext_lazy("Agent"), ordering="agent__name")
    def agent_label(self, execution: Execution) -> str:
        return str(execution.agent)

    @admin.display(description=gettext_lazy("Run"), ordering="run_number")
    def run_label(self, execution: Execution) -> str:
        """`Heartbeat #128`: the run as people name it."""
        return run_title(execution)

    # Shown to whoever sees the list: the service decides per run (its requester, or cancel_execution).
    @admin.action(description=gettext_lazy("Cancel the selected runs"), permissions=["view"])
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[Execution]) -> None:
        for execution in queryset.select_related("agent"):
            try:
                result = execution_cancel(execution_id=execution.execution_id, actor=admin_actor(request))
            except CancelRefused as refused:
                self.message_user(request, f"{run_title(execution)}: {refused.message}", messages.ERROR)
                continue
            level = messages.WARNING if result.outcome == Outcome.ALREADY_ENDED else messages.SUCCESS
            self.message_user(request, result.message, level)

    @admin.display(description=gettext_lazy("Result"), ordering="severity")
    def severity_display(self, execution: Execution) -> SafeString | str:
        return severity_badge(execution.severity, execution.status)

    @admin.display(description=gettext_lazy("Duration"), ordering="duration_ms")
    def duration(self, execution: Execution) -> str:
        return _duration(execution.duration_ms)


@admin.register(SkippedRun)
class SkippedRunAdmin(admin.ModelAdmin):
    """Scheduled runs that did not start (the previous run was still going, a repeat, a pause): read-only."""

    list_display = ("created_at", "councilor", "scheduled_for", "reason", "running_execution")
    list_filter = ("reason", "councilor")
    date_hierarchy = "created_at"
    list_select_related = ("councilor", "running_execution")
    readonly_fields = [field.name for field in SkippedRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SkippedRun | None = None) -> bool:
        return False


@admin.register(RunIncident)
class RunIncidentAdmin(admin.ModelAdmin):
    """Late starts, stuck runs and missed slots (councilors/incidents.py), open or resolved: read-only."""

    list_display = ("raised_at", "councilor", "kind", "key", "execution", "resolved_at")
    list_filter = ("kind", "councilor")
    date_hierarchy = "raised_at"
    list_select_related = ("councilor", "execution")
    readonly_fields = [field.name for field in RunIncident._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: RunIncident | None = None) -> bool:
        return False


@admin.register(ActionRecord)
class ActionRecordAdmin(admin.ModelAdmin):
    """Who paused, resumed, ran or executed what, from where: read-only (rows are written only by the services)."""

    list_display = ("created_at", "actor_name", "action", "target", "execution_id", "source", "address")
    list_filter = ("action", "source")
    date_hierarchy = "created_at"
    search_fields = ("actor_name", "target", "execution_id", "address")
    readonly_fields = [field.name for field in ActionRecord._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ActionRecord | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ActionRecord | None = None) -> bool:
        return False
