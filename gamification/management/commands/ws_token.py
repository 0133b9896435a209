"""`manage.py ws_token <username> [--ttl SECONDS]`: print a JWT for `/ws/gamification?token=`."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from infrastructure.commands import OperatorCommand
from infrastructure.text import unstorable
from infrastructure.tokens import token_mint

# In English here (the tests compare against them), in the shell's language when shown.
NO_SUCH_USER = gettext_noop("No active user {username!r}.")
BAD_TTL = gettext_noop("--ttl must be a positive number of seconds; got {ttl}.")
TTL_OVER_MAXIMUM = gettext_noop("--ttl may be at most {maximum} seconds (JWT_MAX_TTL_SECONDS); got {ttl}.")


class Command(OperatorCommand):
    help = gettext_lazy(  # type: ignore[assignment]  # lazy: --help in the shell's language
        "Print a signed token for the WebSocket (?token=) and the API (Authorization: Bearer)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help=_("the user the token names (an active account)"))
        parser.add_argument(
            "--ttl",
            type=int,
            default=None,
            help=_("Seconds the token stays valid (default %(default)s, at most %(maximum)s).")
            % {"default": settings.JWT_TTL_SECONDS, "maximum": settings.JWT_MAX_TTL_SECONDS},
        )

    def handle(self, *args: object, username: str, ttl: int | None, **options: object) -> None:
        if ttl is not None and ttl <= 0:
            raise CommandError(_(BAD_TTL).format(ttl=ttl))
        if ttl is not None and ttl > settings.JWT_MAX_TTL_SECONDS:
            raise CommandError(_(TTL_OVER_MAXIMUM).format(maximum=settings.JWT_MAX_TTL_SECONDS, ttl=ttl))
        if unstorable(username):  # bytes that are not UTF-8 (surrogateescape), or a NUL: no user has that name
            raise CommandError(_(NO_SUCH_USER).format(username=username))
        model = get_user_model()
        user = model.objects.filter(**{model.USERNAME_FIELD: username}, is_active=True).first()
        if user is None:
            raise CommandError(_(NO_SUCH_USER).format(username=username))
        self.stdout.write(token_mint(user=user, ttl_seconds=ttl))
