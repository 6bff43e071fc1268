"""Create the role groups with their permissions.

Permissions are created here explicitly because Django only creates them after
all migrations have run (post_migrate), and the groups need them now.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "caseworker": [
        ("vipcases", "work_case"),
        ("vipcases", "view_restricted_notes"),
        ("vipcases", "view_case"),
        ("vipcases", "view_caseevent"),
        ("offers", "view_offer"),
        ("offers", "add_offer"),
        ("offers", "view_supplier"),
        ("offers", "add_supplier"),
        ("triage", "view_clinicalneed"),
        ("triage", "view_triageassessment"),
    ],
    "manager": [
        ("vipcases", "work_case"),
        ("vipcases", "manage_cases"),
        ("vipcases", "view_restricted_notes"),
        ("vipcases", "view_case"),
        ("vipcases", "view_caseevent"),
        ("offers", "view_offer"),
        ("offers", "add_offer"),
        ("offers", "view_supplier"),
        ("offers", "add_supplier"),
        ("triage", "view_clinicalneed"),
        ("triage", "change_clinicalneed"),
        ("triage", "view_triageassessment"),
        ("triage", "add_triageassessment"),
    ],
    "mp_inbox": [
        ("vipcases", "use_mp_inbox"),
        ("vipcases", "view_case"),
        ("vipcases", "view_mpenquiry"),
        ("vipcases", "add_mpenquiry"),
    ],
}


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for app_label, codename in perms:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("vipcases", "0001_initial"),
        ("offers", "0001_initial"),
        ("triage", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
