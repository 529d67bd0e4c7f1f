from django.urls import path

from users.api.views import UserDetailApi, UserListCreateApi

app_name = "users"

urlpatterns = [
    path("users", UserListCreateApi.as_view(), name="user-list"),
    path("users/<int:user_id>", UserDetailApi.as_view(), name="user-detail"),
]
