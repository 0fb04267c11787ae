"""One account per name and per address, whatever their case, enforced by the database.

The registration form checks first; these unique indexes decide when two registrations
race (the loser gets a form error, never a 500). Django's User is not this app's model,
so the indexes are plain SQL (SQLite and PostgreSQL both index expressions and partial
ranges); empty emails (createsuperuser without one) are left out.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.RunSQL(
            "CREATE UNIQUE INDEX accounts_username_ci ON auth_user (LOWER(username))",
            "DROP INDEX accounts_username_ci",
        ),
        migrations.RunSQL(
            "CREATE UNIQUE INDEX accounts_email_ci ON auth_user (LOWER(email)) "
            "WHERE email <> ''",
            "DROP INDEX accounts_email_ci",
        ),
    ]
