"""The users REST API: thin views that parse input, call a service or selector, and
serialize the result."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from common.api_errors import error_body
from common.json_parser import BoundedJSONParser
from common.throttles import ScopedRateThrottle
from users import login, selectors, services
from users.api.serializers import (
    AuthTokenOutputSerializer,
    UserCreateInputSerializer,
    UserFilterSerializer,
    UserOutputSerializer,
)
from users.models import User


class UserListCreateApi(GenericAPIView):
    """Staff only: list accounts and create them."""

    permission_classes = [permissions.IsAdminUser]
    serializer_class = UserOutputSerializer

    @extend_schema(
        parameters=[OpenApiParameter("email", str, description="Exact email (any case)")],
        responses=UserOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        filters = UserFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        users = selectors.user_list(**filters.validated_data)
        page = self.paginate_queryset(users)
        return self.get_paginated_response(UserOutputSerializer(page, many=True).data)

    @extend_schema(request=UserCreateInputSerializer, responses={201: UserOutputSerializer})
    def post(self, request: Request) -> Response:
        data = UserCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            user = services.user_create(**data.validated_data)
        except services.EmailAlreadyRegistered as exc:
            raise ValidationError({"email": [str(exc)]}) from None
        except services.AccountRejected as exc:
            raise ValidationError(exc.fields) from None
        return Response(UserOutputSerializer(user).data, status=status.HTTP_201_CREATED)


class UserDetailApi(GenericAPIView):
    """A user may read their own account; staff may read any."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = UserOutputSerializer

    def get(self, request: Request, user_id: int) -> Response:
        if not request.user.is_staff and user_id != request.user.pk:
            raise NotFound()  # non-staff callers cannot probe which ids exist
        user = get_object_or_404(User, pk=user_id)
        return Response(UserOutputSerializer(user).data)


class TokenLoginApi(ObtainAuthToken):
    """Exchange email + password for an API token. Throttled per client address (scope
    "login"), and locked out per account and per client after LOGIN_FAILURE_LIMIT failures
    (django-axes: 429 with Retry-After, the right password included, until the cool-off)."""

    # A login takes credentials, not a token or a session: no authentication (and so no
    # security requirement in the schema, no CSRF check, no 401 for a stale token header).
    authentication_classes: list = []
    # ObtainAuthToken names its parsers, DRF's JSONParser among them: the bounded one instead.
    parser_classes = [FormParser, MultiPartParser, BoundedJSONParser]
    throttle_classes = [ScopedRateThrottle]  # ObtainAuthToken turns throttling off
    throttle_scope = "login"

    @extend_schema(responses={200: AuthTokenOutputSerializer})
    def post(self, request: Request, *args, **kwargs) -> Response:
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            # axes flags the request it was given (DRF's Request, not Django's) when the
            # account or the client is locked out: then the answer is its 429, not a 400.
            if getattr(request, "axes_locked_out", False):
                return Response(
                    error_body("locked_out", login.lockout_message()),
                    status=429,
                    headers={"Retry-After": str(login.lockout_seconds())},
                )
            raise
