"""Admin mixins that know nothing of schools: read-only records and superuser-only admins.

Tenant scoping (which school's rows a staff user sees) is ``schools.tenancy``'s.
"""


class ReadOnlyAdminMixin:
    """For rows that record what happened (events, audit, history): nobody edits them in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SuperuserOnlyAdminMixin:
    """Platform-level admins (users, groups, schedules, tokens): superusers only, whatever a staff
    user's permissions say, so that no school staff can grant itself more rights."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request, *args):
        return self.has_module_permission(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request) and super().has_delete_permission(request, obj)
