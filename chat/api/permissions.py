"""OAuth2 scopes of the agent API: ``read`` for reads, ``write`` for changes.

Session and personal-token callers act with their full rights; an OAuth2
access token acts only within the scopes it was granted.
"""

from __future__ import annotations

from typing import Any

from oauth2_provider.models import AbstractAccessToken
from rest_framework import generics
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.views import APIView


class OAuthScopes(BasePermission):
    message = "The access token lacks the scope for this request (read for reads, write for changes)."

    def has_permission(self, request: Any, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, AbstractAccessToken):
            return True
        needed = "read" if request.method in SAFE_METHODS else "write"
        return token.allow_scopes([needed])


class AgentAPIView(APIView):
    """Base of every agent API view: authenticated, within its OAuth2 scopes."""

    permission_classes = [IsAuthenticated, OAuthScopes]


class AgentListAPIView(generics.ListAPIView):
    permission_classes = [IsAuthenticated, OAuthScopes]
