"""The live pages: the dashboard, a run, an agent (docs/dashboard.md). Each parses, reads, renders."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from councilors.audit import Actor, request_address
from councilors.models import ActionRecord, Execution
from councilors.rerun import execution_run_again
from councilors.services import RunRefused
from dashboard.pages import agent_page_get, run_output_text, run_page_get
from dashboard.runs import run_row_get, runs_page_get
from dashboard.selectors import dashboard_config_get

UNKNOWN_RUN = "No execution with execution_id %(execution_id)r."
UNKNOWN_AGENT = "No agent with agent_id %(agent_id)r."


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The dashboard: server-rendered first picture, kept live by static/js/dashboard/main.js."""
    return render(request, "dashboard/index.html", {"config": dashboard_config_get(user=request.user)})


@login_required
def run_detail(request: HttpRequest, execution_id: str) -> HttpResponse:
    """One run: its output so far rendered here, the rest streamed by static/js/run/main.js.

    A run the user may not see answers 404 like an unknown one: execution ids are public in events.
    """
    context = run_page_get(execution_id=execution_id, user=request.user)
    if context is None:
        raise Http404(UNKNOWN_RUN % {"execution_id": execution_id})
    return render(request, "dashboard/run.html", context)


@require_POST
@login_required
def run_again(request: HttpRequest, execution_id: str) -> HttpResponse:
    """The run page's "Run again": the same run queued once more, then its page; a refusal is said on this page."""
    context = run_page_get(execution_id=execution_id, user=request.user)
    if context is None or not isinstance(context["run"], Execution):
        raise Http404(UNKNOWN_RUN % {"execution_id": execution_id})
    # Recorded as the API's: the page's buttons obey the API's execute rules, as its run form does.
    actor = Actor.of_user(request.user, source=ActionRecord.Source.API, address=request_address(request))
    try:
        queued = execution_run_again(execution=context["run"], actor=actor)
    except RunRefused as refused:
        return render(request, "dashboard/run.html", {**context, "rerun_refused": str(refused)}, status=409)
    return redirect("run_detail", execution_id=queued.execution_id)


@login_required
def run_output(request: HttpRequest, execution_id: str) -> HttpResponse:
    """A run's raw output as a text file (the run page's Download), colour codes and all."""
    text = run_output_text(execution_id=execution_id, user=request.user)
    if text is None:
        raise Http404(UNKNOWN_RUN % {"execution_id": execution_id})
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{execution_id}.log"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def agent_detail(request: HttpRequest, agent_id: str) -> HttpResponse:
    """An agent or councilor: definition, runs (filtered by ?severity= and ?status=, paginated), trend."""
    context = agent_page_get(
        agent_id=agent_id,
        user=request.user,
        page=request.GET.get("page"),
        severity=request.GET.get("severity"),
        status=request.GET.get("status"),
        prompt_from=request.GET.get("from"),
    )
    if context is None:
        raise Http404(UNKNOWN_AGENT % {"agent_id": agent_id})
    return render(request, "dashboard/agent.html", context)


@login_required
def runs_list(request: HttpRequest) -> HttpResponse:
    """Every run the user may see, filtered and paginated (`/runs/`), kept live by static/js/runs/main.js."""
    return render(request, "dashboard/runs.html", runs_page_get(user=request.user, query=request.GET))


@login_required
def runs_row(request: HttpRequest, execution_id: str) -> JsonResponse:
    """`{"row": …}` for one run under the page's filters; `{"row": null}` when it is not to be listed."""
    return JsonResponse({"row": run_row_get(execution_id=execution_id, user=request.user, query=request.GET)})
