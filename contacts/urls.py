from django.urls import path

from . import apis

urlpatterns = [
    path("auth/login", apis.LoginApi.as_view(), name="login"),
    path("auth/logout", apis.LogoutApi.as_view(), name="logout"),
    path("me/voip-scope", apis.VoipScopeApi.as_view(), name="voip-scope"),
    path("me/students", apis.MyStudentsApi.as_view(), name="my-students"),
    path("students/<str:user_id>/admin", apis.AdminBindApi.as_view(), name="admin-bind"),
    path("students/<str:user_id>/admin/transfer", apis.AdminTransferApi.as_view(), name="admin-transfer"),
    path("students/<str:user_id>/share-links", apis.ShareLinkCreateApi.as_view(), name="share-link-create"),
    path("students/<str:user_id>/contacts", apis.ContactListApi.as_view(), name="contact-list"),
    path("students/<str:user_id>/contacts/delete", apis.ContactDeleteApi.as_view(), name="contact-delete"),
    path("students/<str:user_id>/contacts/me", apis.ContactUnbindSelfApi.as_view(), name="contact-unbind-self"),
    path("students/<str:user_id>/call-order", apis.CallOrderApi.as_view(), name="call-order"),
    path("share-links/<str:token>", apis.ShareLinkDetailApi.as_view(), name="share-link-detail"),
    path("share-links/<str:token>/bind", apis.ShareLinkBindApi.as_view(), name="share-link-bind"),
]
