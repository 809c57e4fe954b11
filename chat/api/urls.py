"""Agent REST API, mounted at /api/v1/. Described at /api/schema/, browsable at /api/docs/."""

from django.urls import path

from chat.api import agents, contacts, threads

urlpatterns = [
    path("threads/", threads.ThreadListView.as_view(), name="api-threads"),
    path("threads/<int:thread_id>/", threads.ThreadDetailView.as_view(), name="api-thread"),
    path("threads/<int:thread_id>/messages/", threads.ThreadMessagesView.as_view(), name="api-thread-messages"),
    path("threads/<int:thread_id>/notes/", threads.ThreadNotesView.as_view(), name="api-thread-notes"),
    path("threads/<int:thread_id>/lock/", threads.ThreadLockView.as_view(locked=True), name="api-thread-lock"),
    path("threads/<int:thread_id>/unlock/", threads.ThreadLockView.as_view(locked=False), name="api-thread-unlock"),
    path("threads/<int:thread_id>/typing/", threads.ThreadTypingView.as_view(), name="api-thread-typing"),
    path("threads/<int:thread_id>/seen/", threads.ThreadSeenView.as_view(), name="api-thread-seen"),
    path("contacts/", contacts.ContactListView.as_view(), name="api-contacts"),
    path("contacts/<int:contact_id>/", contacts.ContactDetailView.as_view(), name="api-contact"),
    path("contacts/<int:contact_id>/assign/", contacts.ContactAssignView.as_view(), name="api-contact-assign"),
    path("contacts/<int:contact_id>/transfer/", contacts.ContactTransferView.as_view(), name="api-contact-transfer"),
    path("contacts/<int:contact_id>/unassign/", contacts.ContactUnassignView.as_view(), name="api-contact-unassign"),
    path("contacts/<int:contact_id>/status/", contacts.ContactStatusView.as_view(), name="api-contact-status"),
    path("contacts/<int:contact_id>/end/", contacts.ContactEndView.as_view(), name="api-contact-end"),
    path(
        "contacts/<int:contact_id>/custom-fields/",
        contacts.ContactCustomFieldsView.as_view(),
        name="api-contact-custom-fields",
    ),
    path("inbox/counts/", contacts.InboxCountsView.as_view(), name="api-inbox-counts"),
    path("presence/", agents.PresenceView.as_view(), name="api-presence"),
    path("agents/", agents.AgentListView.as_view(), name="api-agents"),
    path("queues/", agents.QueueListView.as_view(), name="api-queues"),
    path("custom-fields/", agents.CustomFieldListView.as_view(), name="api-custom-fields"),
    path("customers/<int:customer_id>/", agents.CustomerDetailView.as_view(), name="api-customer"),
    path("canned-responses/", agents.CannedResponseListView.as_view(), name="api-canned-responses"),
    path("canned-responses/<int:response_id>/", agents.CannedResponseDetailView.as_view(), name="api-canned-response"),
    path("attachments/", agents.AttachmentUploadView.as_view(), name="api-attachments"),
    path("attachments/<uuid:attachment_id>/", agents.AttachmentDetailView.as_view(), name="api-attachment"),
]
