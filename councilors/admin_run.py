"""The admin's "Run now": the change pages' views, and the message that links to the run page.

The list action (councilors/admin.py) and the change pages' buttons say the same thing, here.
"""

from urllib.parse import quote

from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from councilors import services
from councilors.audit import Actor, request_address
from councilors.forms import AgentRunForm
from councilors.labels import runner_label
from councilors.models import ActionRecord, Agent, Councilor, Execution
from councilors.run_errors import run_error_text
from councilors.verdicts import run_verdict

RUN_PERMISSION = "councilors.run_agent"
# The dashboard's run page (docs/dashboard.md): reversed by name, or its documented path where it is not wired.
RUN_PAGE_URL_NAME = "run_detail"
RUN_PAGE_PATH = "/executions/{execution_id}/"
AGENT_RUN_TEMPLATE = "admin/councilors/agent/run.html"

# In English here (the tests read them), in the admin's language when shown.
QUEUED = gettext_noop("{}: queued for a worker as {}.")
SKIPPED = gettext_noop("{}: not run — {}.")
SKIPPED_BEHIND = gettext_noop("{}: not run — {} ({}).")
REFUSED = gettext_noop("{}: not run — {}")
RAN_HERE = gettext_noop("{}: ran here (no worker cluster is running) as {} — {}{}.")


def admin_actor(request: HttpRequest) -> Actor:
    """The admin user acting in this request, as the action record names them."""
    return Actor.of_user(request.user, source=ActionRecord.Source.ADMIN, address=request_address(request))


def run_page_url(execution_id: str) -> str:
    """Where a person follows one run: the dashboard's run page."""
    try:
        return reverse(RUN_PAGE_URL_NAME, args=[execution_id])
    except NoReverseMatch:
        return RUN_PAGE_PATH.format(execution_id=quote(execution_id, safe=""))


def _run_link(execution_id: str) -> SafeString:
    return format_html('<a href="{}">{}</a>', run_page_url(execution_id), execution_id)


def run_now_message(*, label: str, result: services.RunNow) -> tuple[SafeString, int]:
    """What "Run now" did, for the admin's message (with its level); each run named links to its run page."""
    if result.queued:
        return format_html(_(QUEUED), label, _run_link(result.execution_id)), messages.SUCCESS
    if result.skipped is not None:
        reason = result.skipped.get_reason_display().lower()
        running = result.skipped.running_execution
        if running is not None:
            return format_html(_(SKIPPED_BEHIND), label, reason, _run_link(running.execution_id)), messages.WARNING
        return format_html(_(SKIPPED), label, reason), messages.WARNING
    execution = result.execution
    level = messages.ERROR if execution.status in Execution.FAILED else messages.SUCCESS
    verdict = run_verdict(execution.status, execution.severity)
    detail = f": {run_error_text(execution.error)}" if execution.error else ""
    link = _run_link(execution.execution_id)
    return format_html(_(RAN_HERE), label, link, f"{verdict.icon} {verdict.label}", detail), level


def refusal_message(*, label: str, refused: services.RunRefused) -> str:
    """Why a "Run now" ran nothing, for the admin's message."""
    return _(REFUSED).format(label, refused)


def councilor_run_message(model_admin: ModelAdmin, request: HttpRequest, councilor: Councilor) -> None:
    """Queue a councilor's run for a worker (never here: the web process runs no agent) and say what happened."""
    try:
        result = services.councilor_run_requested(councilor=councilor, actor=admin_actor(request))
    except services.RunRefused as refused:
        model_admin.message_user(request, refusal_message(label=councilor.title, refused=refused), messages.ERROR)
        return
    model_admin.message_user(request, *run_now_message(label=councilor.title, result=result))


def _object_or_404(model_admin: ModelAdmin, request: HttpRequest, object_id: str):
    found = model_admin.get_object(request, unquote(object_id))
    if found is None:
        raise Http404(f"No {model_admin.opts.verbose_name} with id {object_id!r}.")
    return found


def councilor_run_view(model_admin: ModelAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    """POST from a councilor's change page: run its task now, then back to the page with the message."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    councilor: Councilor = _object_or_404(model_admin, request, object_id)
    if not model_admin.has_change_permission(request, councilor):
        raise PermissionDenied
    councilor_run_message(model_admin, request, councilor)
    return redirect(reverse("admin:councilors_councilor_change", args=[councilor.pk]))


def agent_run_view(model_admin: ModelAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    """An agent's "Run now": a form asking for the prompt (a councilor's task prompt to start from), then the run."""
    agent: Agent = _object_or_404(model_admin, request, object_id)
    if not request.user.has_perm(RUN_PERMISSION):
        raise PermissionDenied
    if request.method == "POST":
        form = AgentRunForm(request.POST)
        if form.is_valid():
            try:
                result = services.agent_run_now(agent=agent, actor=admin_actor(request), **form.cleaned_data)
            except services.RunRefused as refused:
                # The form stays filled in: the admin can try again once the reason is gone.
                model_admin.message_user(request, refusal_message(label=agent.label, refused=refused), messages.ERROR)
            else:
                model_admin.message_user(request, *run_now_message(label=agent.label, result=result))
                return redirect(reverse("admin:councilors_agent_change", args=[agent.pk]))
    else:
        councilor = getattr(agent, "councilor", None)
        form = AgentRunForm(initial={"prompt": councilor.task_prompt} if councilor else {})
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Run %(agent)s") % {"agent": agent.label},
        "opts": model_admin.opts,
        "original": agent,
        "runner_label": runner_label(agent.runner),
        "form": form,
    }
    return TemplateResponse(request, AGENT_RUN_TEMPLATE, context)
