# `make run` starts everything on a fresh machine; `make test` runs the suite as CI does.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test install install-dev lint messages screenshots

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(PY) -m devserver

test: install-dev
	$(PY) -m pytest
	node --test static/js/tests/

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# Translations (docs/dashboard.md, "Languages"): extract messages into locale/*.po (needs GNU
# gettext), then compile the committed .mo files. Translate what it lists, and run it again.
messages: install-dev
	$(PY) -m devserver.catalogues

# The pictures in docs/ (README, docs/dashboard.md): the browser tests that take them, writing into
# docs/ on purpose (a normal test run writes them to a temporary folder).
screenshots: install-dev
	CONDUCTOR_SCREENSHOTS_DIR=$(CURDIR)/docs $(PY) -m pytest tests/dashboard/test_browser.py tests/dashboard/test_browser_pages.py tests/dashboard/test_browser_polish.py -q -k "screenshot or completed_within or phone or portuguese or streams_lines or one_chart_mark"
