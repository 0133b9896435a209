from django.urls import path

from dashboard import views

urlpatterns = [
    path("", views.index, name="dashboard"),
    path("executions/<str:execution_id>/", views.run_detail, name="run_detail"),
    path("executions/<str:execution_id>/output.log", views.run_output, name="run_output"),
    path("executions/<str:execution_id>/run-again", views.run_again, name="run_again"),
    path("agents/<str:agent_id>/", views.agent_detail, name="agent_detail"),
    path("runs/", views.runs_list, name="runs"),
    path("runs/row/<str:execution_id>", views.runs_row, name="runs_row"),
]
