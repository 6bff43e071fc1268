"""`python manage.py create_api_token NAME`: a new intake API token, printed once."""

from django.core.management.base import BaseCommand, CommandError

from offers.tokens import api_token_create


class Command(BaseCommand):
    help = (
        "Create an intake API token for the integration NAME and print it once. Only a "
        "hash is stored: keep the token safe; revoke it in the admin if it is lost."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the integration, e.g. 'public webform'")

    def handle(self, *args, **options):
        try:
            token, raw = api_token_create(name=options["name"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(
            f"Token {token.prefix}… for {token.name!r} created. It is shown once, here; "
            "only a hash is kept. Send it as: Authorization: Bearer <token>"
        )
        self.stdout.write(raw)
