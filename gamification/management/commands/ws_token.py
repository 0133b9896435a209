"""`manage.py ws_token <username> [--ttl SECONDS]`: print a JWT for `/ws/gamification?token=`."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from infrastructure.text import unstorable
from infrastructure.tokens import token_mint

NO_SUCH_USER = "No active user {username!r}."
BAD_TTL = "--ttl must be a positive number of seconds; got {ttl}."
TTL_OVER_MAXIMUM = "--ttl may be at most {maximum} seconds (JWT_MAX_TTL_SECONDS); got {ttl}."


class Command(BaseCommand):
    help = "Print a signed token for the WebSocket (?token=) and the API (Authorization: Bearer)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--ttl",
            type=int,
            default=None,
            help=f"Seconds the token stays valid (default {settings.JWT_TTL_SECONDS}, "
            f"at most {settings.JWT_MAX_TTL_SECONDS}).",
        )

    def handle(self, *args: object, username: str, ttl: int | None, **options: object) -> None:
        if ttl is not None and ttl <= 0:
            raise CommandError(BAD_TTL.format(ttl=ttl))
        if ttl is not None and ttl > settings.JWT_MAX_TTL_SECONDS:
            raise CommandError(TTL_OVER_MAXIMUM.format(maximum=settings.JWT_MAX_TTL_SECONDS, ttl=ttl))
        if unstorable(username):  # bytes that are not UTF-8 (surrogateescape), or a NUL: no user has that name
            raise CommandError(NO_SUCH_USER.format(username=username))
        model = get_user_model()
        user = model.objects.filter(**{model.USERNAME_FIELD: username}, is_active=True).first()
        if user is None:
            raise CommandError(NO_SUCH_USER.format(username=username))
        self.stdout.write(token_mint(user=user, ttl_seconds=ttl))
