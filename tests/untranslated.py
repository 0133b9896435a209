"""Finding English left in a page rendered in Portuguese (tests/test_i18n_pages.py).

A page is rendered twice, in English and in Brazilian Portuguese. Every piece of text a person reads
(text nodes, and the attributes that are read out or shown: title, placeholder, aria-label, alt,
data-label, a button's value) that comes out the same in both languages is either data (names,
ids, prompts, numbers), a word that is the same in both languages, or a message nobody translated:
the last kind is what the test reports.
"""

import re
from collections.abc import Iterable
from html.parser import HTMLParser

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models

# Elements whose text is not read as words of the page: code and data blocks, scripts, what a form
# field holds (data a person typed, shown back).
SKIPPED_ELEMENTS = {"script", "style", "code", "pre", "kbd", "samp", "template", "svg", "textarea"}
READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "data-label")
BUTTON_TYPES = {"submit", "button", "reset"}
VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# A time as data (a tooltip with the exact moment): the same in every language.
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")

# The same in English and Portuguese (or names that are not translated), each with its reason.
LANGUAGE_NEUTRAL = {
    "Conductor",  # the product's name
    "Prompt",  # the word Brazilian users of AI agents say (the catalogue keeps it)
    "Status",  # the same word in Portuguese
    "Emoji",  # the same word in Portuguese
    "Worker",  # what Brazilian operators call it too (the catalogue keeps the word)
    "total",  # the same word ("5 total", Django's changelist)
    "Django",  # a name
    "Django Q",  # django-q2's app name, in the admin's index (a third-party app)
    "cron",  # a name (a cron expression)
    "Cron",
    "toast",  # a channel's value, as the settings and the API write it
    "panel",
    "email",
    "HTTP",
    "WebSocket",  # a protocol's name
    "API",
    "JSON",
    "URL",
    "ms",  # the unit
    "ℹ",  # the info icon ℹ️ (Unicode files it as a letter)
    "s",
    "admin",  # the user the demo creates
    # Django's own, not the project's: admin/search_form.html writes the search icon's alt text
    # untranslated, and a boolean column's icon has alt="True" or "False" (admin_list._boolean_icon).
    "Search",
    "True",
    "False",
}


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in SKIPPED_ELEMENTS and tag not in VOID_ELEMENTS:
            self._skipping.append(tag)
        if self._skipping:
            return
        # The language switch lists each language in its own name, on purpose.
        if tag == "option" and values.get("value") in {code for code, _name in settings.LANGUAGES}:
            self._skipping.append("option")
            return
        self.texts += [values[name] or "" for name in READ_ATTRIBUTES if values.get(name)]
        if tag == "input" and values.get("type") in BUTTON_TYPES and values.get("value"):
            self.texts.append(values["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping and self._skipping[-1] == tag:
            self._skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.texts.append(data)


def readable_texts(html: str) -> set[str]:
    """The pieces of text a person reads on the page, whitespace collapsed, those with letters only."""
    parser = _Texts()
    parser.feed(html)
    texts = {" ".join(text.split()) for text in parser.texts}
    return {text for text in texts if LETTERS.search(text)}


def _label_variants(text: object) -> set[str]:
    text = str(text)
    return {text, text[:1].upper() + text[1:], f"{text[:1].upper() + text[1:]}:"} if text else set()


def model_labels(app_label: str) -> set[str]:
    """What an app's models say about themselves: verbose names, field labels, help texts, choices."""
    labels: set[str] = set()
    for model in apps.get_app_config(app_label).get_models():
        labels |= _label_variants(model._meta.verbose_name) | _label_variants(model._meta.verbose_name_plural)
        labels |= {str(name) for _codename, name in model._meta.permissions}
        for field in model._meta.get_fields():
            if not isinstance(field, models.Field):
                continue
            labels |= _label_variants(field.verbose_name) | _label_variants(field.help_text)
            for _value, label in field.flatchoices:
                labels |= _label_variants(label)
    return labels


# Not the project's own: django-q2's and django-axes' models in the admin's index (neither app has
# Portuguese), and axes' app name.
THIRD_PARTY = model_labels("django_q") | model_labels("axes") | {"Axes"}


def _without(text: str, pieces: Iterable[str]) -> str:
    """`text` without each piece where it stands as whole words (longest first)."""
    for piece in sorted(pieces, key=len, reverse=True):
        if piece in text:
            text = re.sub(rf"(?<!\w){re.escape(piece)}(?!\w)", " ", text)
    return text


def untranslated(english_html: str, portuguese_html: str, *, data: set[str], admin: bool = False) -> list[str]:
    """Texts the same in both renders that are neither data, nor language-neutral, nor excused.

    Data and excused labels are taken out where they stand inside a text too ("4 councilors",
    "Heartbeat · 2 s"); what is left must have no word but language-neutral ones. The models' own
    labels are excused on the admin's pages only (the live pages word everything themselves).
    """
    same = readable_texts(english_html) & readable_texts(portuguese_html)
    excused = THIRD_PARTY if admin else set()
    removable = {piece for piece in data | excused if len(piece) > 1}
    found = []
    for text in sorted(same):
        rest = ISO_TIME.sub(" ", _without(text, removable))
        words = [word for word in re.split(r"[^\w-]+", rest) if LETTERS.search(word)]
        if any(word not in LANGUAGE_NEUTRAL for word in words):
            found.append(text)
    return found


def database_strings() -> set[str]:
    """What the database holds and the pages show as it is: names, ids, prompts, outputs, errors."""
    from councilors.models import ActionRecord, Agent, Councilor, Execution

    data = set(get_user_model().objects.values_list("username", flat=True))
    for agent in Agent.objects.all():
        data |= {agent.agent_id, agent.name, agent.display_name, agent.emoji, agent.description, str(agent)}
        data |= {str(part) for part in agent.runner_config.get("argv", [])}
    for councilor in Councilor.objects.all():
        data |= {councilor.title, councilor.task_name, councilor.task_prompt, councilor.schedule_value}
    for execution in Execution.objects.all():
        data |= {execution.execution_id, execution.prompt, execution.error, execution.instance_id}
        for line in execution.output.splitlines():  # the run page shows each coloured stretch on its own
            data |= {line, *(part.strip() for part in ANSI_ESCAPE.split(line))}
    for record in ActionRecord.objects.all():
        data |= {record.actor_name, record.target, record.execution_id, record.address}
    return {text for text in data if text}
