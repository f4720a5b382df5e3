"""`manage.py create_demo_users`: one login per role (two Posters, for four eyes), for
development only."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from config.roles import STAFF_ROLES, Role

DEMO_USERS = [
    ("rep", "creditdesk-rep", Role.REP, "Riley", "Rep"),
    ("poster", "creditdesk-poster", Role.POSTER, "Pat", "Poster"),
    # A second Poster: a refund one Poster prepares, the other releases (four eyes).
    ("poster2", "creditdesk-poster2", Role.POSTER, "Quinn", "Poster"),
    ("accountant", "creditdesk-accountant", Role.ACCOUNTANT, "Alex", "Accountant"),
]


class Command(BaseCommand):
    help = "Create (or reset) the demo users, one per role. Refuses to run with DEBUG off."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("Demo users are for development only (DEBUG is off).")
        User = get_user_model()
        self.stdout.write("Demo logins (development only):")
        for username, password, role, first, last in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username)
            user.first_name, user.last_name = first, last
            user.email = f"{username}@example.com"
            user.is_staff = role in STAFF_ROLES
            user.is_active = True
            user.set_password(password)
            user.save()
            user.groups.set([Group.objects.get(name=role)])
            self.stdout.write(f"  {role:<11} user {username:<11} password {password}")
