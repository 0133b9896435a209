"""Every validation rule, through the services (which call full_clean) and the models."""

import sys

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from councilors import validators
from councilors.models import RUNNER_CONFIG_NOT_OBJECT, Agent, Councilor
from councilors.runners.base import TIMEOUT_INVALID
from councilors.runners.command import ARGV_INVALID, CWD_INVALID, ENV_INVALID
from councilors.runners.http import URL_INVALID
from councilors.runners.python import CALLABLE_INVALID
from councilors.services import agent_create
from tests.factories import edit_councilor, make_agent, make_councilor

pytestmark = pytest.mark.django_db


def errors_of(excinfo: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return excinfo.value.message_dict


@pytest.mark.parametrize("value", ["1m", "30m", "1h", "12h", "2d", "90m"])
def test_valid_intervals_are_accepted(value):
    councilor = make_councilor(schedule_type="interval", schedule_value=value)
    assert Councilor.objects.get(pk=councilor.pk).schedule_value == value


@pytest.mark.parametrize("value", ["30", "m", "30s", "1.5h", "-1h", "30 m", "1w", "h1", "30M"])
def test_bad_intervals_are_refused_with_the_format(value):
    agent = make_agent()
    with pytest.raises(ValidationError) as excinfo:
        make_councilor(agent=agent, schedule_type="interval", schedule_value=value)
    assert errors_of(excinfo)["schedule_value"] == [validators.INTERVAL_INVALID % {"value": value}]
    assert not Councilor.objects.filter(agent=agent).exists()


@pytest.mark.parametrize("value", ["0m", "0h", "00d"])
def test_zero_interval_is_refused(value):
    with pytest.raises(ValidationError) as excinfo:
        make_councilor(schedule_type="interval", schedule_value=value)
    assert errors_of(excinfo)["schedule_value"] == [validators.INTERVAL_ZERO % {"value": value}]


@pytest.mark.parametrize("value", ["*/5 * * * *", "0 6 * * 1-5", "30 2 1 * *", "0 0 * * sun"])
def test_valid_cron_expressions_are_accepted(value):
    councilor = make_councilor(schedule_type="cron", schedule_value=value)
    assert councilor.schedule_value == value


@pytest.mark.parametrize("value, count", [("* * * *", 4), ("* * * * * *", 6), ("*", 1), ("", 0)])
def test_cron_with_the_wrong_field_count_is_refused(value, count):
    with pytest.raises(ValidationError) as excinfo:
        make_councilor(schedule_type="cron", schedule_value=value)
    assert validators.CRON_FIELDS % {"count": count} in errors_of(excinfo)["schedule_value"]


@pytest.mark.parametrize(
    ("value", "field", "part", "allowed"),
    [
        ("61 * * * *", "minute", "61", "0-59"),
        ("*/0 * * * *", "minute", "*/0", "0-59"),
        ("0 25 * * *", "hour", "25", "0-23"),
        ("0 6 32 * *", "day of month", "32", "1-31"),
        ("0 6 * 13 *", "month", "13", "1-12 or jan-dec"),
        ("0 6 * jna *", "month", "jna", "1-12 or jan-dec"),
        ("0 6 * * 8", "day of week", "8", "0-6 or sun-sat, 0 and 7 being Sunday"),
        ("a b c d e", "minute", "a", "0-59"),
    ],
)
def test_a_bad_cron_expression_names_the_field_that_is_wrong(value, field, part, allowed):
    with pytest.raises(ValidationError) as excinfo:
        make_councilor(schedule_type="cron", schedule_value=value)
    params = {"value": value, "field": field, "part": part, "allowed": allowed}
    assert errors_of(excinfo)["schedule_value"] == [validators.CRON_FIELD_INVALID % params]


def test_a_bad_cron_expression_never_shows_croniter_s_own_wording():
    with pytest.raises(ValidationError) as excinfo:
        make_councilor(schedule_type="cron", schedule_value="0 6 * 13 *")
    [message] = errors_of(excinfo)["schedule_value"]
    assert "not acceptable" not in message and "out of range" not in message


def test_a_cron_expression_that_never_comes_due_is_refused():
    # croniter accepts it, and django-q2 would look for its next run in vain.
    with pytest.raises(ValidationError) as excinfo:
        make_councilor(schedule_type="cron", schedule_value="0 0 31 2 *")
    assert errors_of(excinfo)["schedule_value"] == [validators.CRON_NEVER % {"value": "0 0 31 2 *"}]


def test_a_cron_refusal_is_in_the_reader_s_language():
    with translation.override("pt-br"), pytest.raises(ValidationError) as excinfo:
        make_councilor(schedule_type="cron", schedule_value="0 25 * * *")
    [message] = errors_of(excinfo)["schedule_value"]
    assert message == "Expressão cron '0 25 * * *': o campo hora '25' não é válido (0-23)."


def test_an_interval_value_is_not_a_cron_expression():
    with pytest.raises(ValidationError) as excinfo:
        make_councilor(schedule_type="cron", schedule_value="30m")
    assert errors_of(excinfo)["schedule_value"] == [validators.CRON_FIELDS % {"count": 1}]


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t"])
def test_empty_prompt_is_refused(prompt):
    with pytest.raises(ValidationError) as excinfo:
        make_councilor(task_prompt=prompt)
    assert errors_of(excinfo)["task_prompt"] == [validators.PROMPT_EMPTY]


def test_prompt_at_the_limit_is_accepted_and_one_more_is_refused():
    assert len(make_councilor(task_prompt="x" * 10_000).task_prompt) == 10_000
    with pytest.raises(ValidationError) as excinfo:
        make_councilor(task_prompt="x" * 10_001)
    assert errors_of(excinfo)["task_prompt"] == [validators.PROMPT_TOO_LONG % {"limit": 10_000, "length": 10_001}]


def test_empty_notification_channels_are_refused():
    with pytest.raises(ValidationError) as excinfo:
        make_councilor(notification_channels=[])
    assert errors_of(excinfo)["notification_channels"] == [validators.CHANNELS_EMPTY]


def test_unknown_notification_channels_are_named():
    with pytest.raises(ValidationError) as excinfo:
        make_councilor(notification_channels=["panel", "sms", "pager"])
    assert errors_of(excinfo)["notification_channels"] == [validators.CHANNELS_UNKNOWN % {"unknown": "pager, sms"}]


@pytest.mark.parametrize("value", ["panel", {"panel": True}, [1], None])
def test_notification_channels_must_be_a_list_of_names(value):
    with pytest.raises(ValidationError) as excinfo:
        make_councilor(notification_channels=value)
    assert errors_of(excinfo)["notification_channels"] == [validators.CHANNELS_NOT_LIST]


def test_every_channel_together_is_accepted():
    assert make_councilor(notification_channels=["panel", "toast", "email"]).notification_channels == [
        "panel",
        "toast",
        "email",
    ]


@pytest.mark.parametrize("value", ["docs/a.md", ["ok", ""], [3]])
def test_context_files_must_be_a_list_of_paths(value):
    with pytest.raises(ValidationError) as excinfo:
        make_councilor(context_files=value)
    assert errors_of(excinfo)["context_files"] == [validators.CONTEXT_FILES_INVALID]


@pytest.mark.parametrize("color", ["red", "#fff", "#12345g", "123456", "#1234567", ""])
def test_bad_colours_are_refused(color):
    with pytest.raises(ValidationError) as excinfo:
        make_agent(color=color)
    assert validators.COLOR_INVALID % {"value": color} in errors_of(excinfo)["color"]


@pytest.mark.parametrize("color", ["#000000", "#A1b2C3"])
def test_good_colours_are_accepted(color):
    assert make_agent(color=color).color == color


def test_update_revalidates_and_keeps_the_stored_row():
    councilor = make_councilor(schedule_value="30m")
    with pytest.raises(ValidationError):
        edit_councilor(councilor, schedule_value="0m")
    assert Councilor.objects.get(pk=councilor.pk).schedule_value == "30m"


def test_one_councilor_per_agent():
    councilor = make_councilor()
    with pytest.raises(ValidationError) as excinfo:
        make_councilor(agent=councilor.agent)
    assert "agent" in errors_of(excinfo)


PY = sys.executable


@pytest.mark.parametrize(
    "runner, config, message",
    [
        ("command", {}, ARGV_INVALID),
        ("command", {"argv": []}, ARGV_INVALID),
        ("command", {"argv": "python --version"}, ARGV_INVALID),
        ("command", {"argv": [PY, 3]}, ARGV_INVALID),
        ("command", {"argv": [PY], "env": {"A": 1}}, ENV_INVALID),
        ("command", {"argv": [PY], "env": ["A=1"]}, ENV_INVALID),
        ("command", {"argv": [PY], "cwd": 5}, CWD_INVALID),
        ("command", {"argv": [PY], "timeout": 0}, TIMEOUT_INVALID % {"value": 0}),
        ("command", {"argv": [PY], "timeout": "10"}, TIMEOUT_INVALID % {"value": "10"}),
        ("command", {"argv": [PY], "timeout": True}, TIMEOUT_INVALID % {"value": True}),
        ("http", {}, URL_INVALID),
        ("http", {"url": "ftp://example.com/x"}, URL_INVALID),
        ("http", {"url": "http://"}, URL_INVALID),
        ("http", {"url": "http://127.0.0.1:1/run", "timeout": -1}, TIMEOUT_INVALID % {"value": -1}),
        ("python", {}, CALLABLE_INVALID),
        ("python", {"callable": "nodots"}, CALLABLE_INVALID),
        ("python", {"callable": "sys.version"}, CALLABLE_INVALID),
    ],
)
def test_runner_config_errors_name_the_bad_setting(runner, config, message, settings):
    # `sys` allowed, so that sys.version is refused for what it is (not callable), not for its module.
    settings.COUNCILORS_PYTHON_RUNNER_MODULES = ["councilors.demo", "sys"]
    with pytest.raises(ValidationError) as excinfo:
        agent_create(agent_id="bad", name="Bad", runner=runner, runner_config=config)
    assert errors_of(excinfo)["runner_config"] == [message]
    assert not Agent.objects.filter(agent_id="bad").exists()


def test_python_callable_that_cannot_be_imported_is_refused_with_the_reason(settings):
    settings.COUNCILORS_PYTHON_RUNNER_MODULES = ["no.such"]
    with pytest.raises(ValidationError) as excinfo:
        agent_create(agent_id="bad", name="Bad", runner="python", runner_config={"callable": "no.such.module.f"})
    [message] = errors_of(excinfo)["runner_config"]
    assert message.startswith("callable 'no.such.module.f' cannot be imported: ")


@pytest.mark.parametrize(
    "runner, config, message",
    [
        ("http", {"url": "ftp://example.com/x"}, "url deve ser um endereço http:// ou https://."),
        (
            "http",
            {"url": "https://example.com/", "headers": {"A": 1}},
            "headers deve ser um objeto de nomes (texto) para valores (texto).",
        ),
        (
            "http",
            {"url": "https://example.com/", "timeout": 0},
            "timeout deve ser um número positivo de segundos; recebido 0.",
        ),
        (
            "python",
            {"callable": "nodots"},
            'callable deve ser o caminho com pontos de uma função, por exemplo "myapp.agents.review".',
        ),
        (
            "python",
            {"callable": "builtins.eval"},
            "a função 'builtins.eval' não está num módulo listado em COUNCILORS_PYTHON_RUNNER_MODULES (agora: "
            "councilors.demo); um administrador do servidor acrescenta o módulo (ou o seu pacote) a essa configuração.",
        ),
    ],
)
def test_runner_config_errors_are_in_the_admin_s_language(runner, config, message):
    with translation.override("pt-br"), pytest.raises(ValidationError) as excinfo:
        agent_create(agent_id="bad", name="Bad", runner=runner, runner_config=config)
    assert errors_of(excinfo)["runner_config"] == [message]


def test_no_module_allowed_for_callables_is_said_in_the_admin_s_language(settings):
    settings.COUNCILORS_PYTHON_RUNNER_MODULES = []
    with translation.override("pt-br"), pytest.raises(ValidationError) as excinfo:
        agent_create(
            agent_id="bad", name="Bad", runner="python", runner_config={"callable": "councilors.demo.summarize"}
        )
    [message] = errors_of(excinfo)["runner_config"]
    assert "(agora: nenhum)" in message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("30", "O intervalo deve ser um número inteiro seguido de m, h ou d (por exemplo 30m, 1h, 2d); recebido '30'."),
        ("0m", "O intervalo deve ser maior que zero; recebido '0m'."),
    ],
)
def test_interval_refusals_are_in_the_admin_s_language(value, message):
    with translation.override("pt-br"), pytest.raises(ValidationError) as excinfo:
        make_councilor(schedule_type="interval", schedule_value=value)
    assert errors_of(excinfo)["schedule_value"] == [message]


@pytest.mark.parametrize("config", [[], "argv", 3])
def test_runner_config_must_be_an_object(config):
    with pytest.raises(ValidationError) as excinfo:
        agent_create(agent_id="bad", name="Bad", runner="command", runner_config=config)
    assert errors_of(excinfo)["runner_config"] == [RUNNER_CONFIG_NOT_OBJECT]


@pytest.mark.parametrize(
    "runner, config",
    [
        ("command", {"argv": [PY, "--version"], "cwd": "/usr/share", "env": {"A": "1"}, "timeout": 2.5}),
        ("http", {"url": "https://agents.example.com/run", "timeout": 30}),
        ("python", {"callable": "councilors.demo.summarize"}),
    ],
)
def test_good_runner_configs_are_accepted(runner, config):
    assert agent_create(agent_id=f"ok-{runner}", name="Ok", runner=runner, runner_config=config).runner_config == config
