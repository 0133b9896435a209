# Intl.DateTimeFormat("en", {dateStyle: "medium", timeStyle: "medium"}): "Dec 6, 2026, 2:39:27 PM".
DATETIME_FORMAT = "M j, Y, g:i:s A"
