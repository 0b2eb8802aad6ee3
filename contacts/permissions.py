from rest_framework.permissions import BasePermission

from .models import Parent


class IsParent(BasePermission):
    """The request carries a valid parent bearer token."""

    def has_permission(self, request, view):
        return isinstance(request.user, Parent)
