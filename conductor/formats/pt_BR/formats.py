# Intl.DateTimeFormat("pt-BR", {dateStyle: "medium", timeStyle: "medium"}): "6 de dez. de 2026, 14:39:27".
DATETIME_FORMAT = r"j \d\e b. \d\e Y, H:i:s"
