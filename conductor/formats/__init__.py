"""Django's date formats where the pages' scripts write the same moment otherwise (FORMAT_MODULE_PATH).

The scripts write a date and time with Intl's "medium" style (static/js/gamification/format.js
formatDateTime); the server's own renderings (the admin, a page before its script runs) use
DATETIME_FORMAT, which these modules make the same: "Dec 6, 2026, 2:39:27 PM", "6 de dez. de 2026,
14:39:27". Everything else is Django's own format for the language.
"""
