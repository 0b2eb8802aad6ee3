from django.urls import path

from contacts.apis import binding, contacts, parents

urlpatterns = [
    path("auth/login", parents.LoginApi.as_view(), name="login"),
    path("auth/logout", parents.LogoutApi.as_view(), name="logout"),
    path("me/voip-scope", parents.VoipScopeApi.as_view(), name="voip-scope"),
    path("me/students", parents.MyStudentsApi.as_view(), name="my-students"),
    path("students/<str:user_id>/admin", binding.AdminBindApi.as_view(), name="admin-bind"),
    path("students/<str:user_id>/admin/transfer", contacts.AdminTransferApi.as_view(), name="admin-transfer"),
    path("students/<str:user_id>/share-links", binding.ShareLinkCreateApi.as_view(), name="share-link-create"),
    path("students/<str:user_id>/contacts", contacts.ContactListApi.as_view(), name="contact-list"),
    path("students/<str:user_id>/contacts/delete", contacts.ContactDeleteApi.as_view(), name="contact-delete"),
    path("students/<str:user_id>/contacts/me", contacts.ContactUnbindSelfApi.as_view(), name="contact-unbind-self"),
    path("students/<str:user_id>/call-order", contacts.CallOrderApi.as_view(), name="call-order"),
    path("share-links/<str:token>", binding.ShareLinkDetailApi.as_view(), name="share-link-detail"),
    path("share-links/<str:token>/bind", binding.ShareLinkBindApi.as_view(), name="share-link-bind"),
    path("scenes/<str:scene>", binding.SceneDetailApi.as_view(), name="scene-detail"),
    path("bind-events", binding.BindEventReportApi.as_view(), name="bind-event-report"),
    path("me/pending-actions", contacts.PendingActionsApi.as_view(), name="pending-actions"),
]
