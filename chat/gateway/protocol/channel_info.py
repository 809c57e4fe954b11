"""The channel-info document (``GET /chat/1.0/brand/{b}/channel/{c}``), reference §7.8.

The SDK reads ``isLiveChat`` and ``isAuthorizationEnabled``; apps and the mobile
SDKs read the rest, so the complete object is sent, built from the Channel.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chat.attachments import file_restrictions
from engage.models import Channel, CustomFieldDefinition

_WIRE_FIELD_TYPES = {"text": "text", "email": "email", "list": "list"}


def cxone_custom_field_definition(definition: CustomFieldDefinition) -> dict[str, Any]:
    return {
        "ident": definition.ident,
        "label": definition.label,
        "type": _WIRE_FIELD_TYPES.get(definition.field_type, "text"),
        "parleyType": definition.field_type,
        "required": definition.required,
        "values": [
            {"name": str(choice.get("value")), "value": str(choice.get("value")), "label": choice.get("label", "")}
            for choice in definition.choices or []
            if isinstance(choice, dict)
        ],
        "liveChatVisibility": True,
        "postDetailVisibility": True,
        "isEditable": definition.is_editable,
    }


def _features(channel: Channel) -> dict[str, bool]:
    return {
        "securedSessions": channel.auth_mode != Channel.AuthMode.NONE,
        "enableClientSideEventsThrottling": False,
        "accessibleFormFields": True,
        "chatExtendedLogging": False,
        "chatOptimizeQueueCountingForChat": False,
        "disableAttachmentOnDfoChat": not channel.attachments_enabled,
        "isCoBrowsingEnabled": False,
        "isCreditCardMaskingEnabled": True,
        "isFeatureGroupChatEnabled": False,
        "isFeatureImproveVisitorInactivityTrackingEnabled": False,
        "isFeatureQueueCountingEnabled": True,
        "isProactiveChatEnabled": False,
        "isWebAnalyticsEnabled": False,
        "liveChatLogoHidden": False,
        "splitChannelInfoAndAvailability": False,
        "useStorageModuleInChat": False,
        "chatInitializationWithoutWebsocket": False,
    }


def _settings(channel: Channel) -> dict[str, Any]:
    return {
        "features": _features(channel),
        "fileRestrictions": file_restrictions(channel),
        "hasPageViews": False,
        "pushNotifications": {"title": "", "body": "", "isActive": False, "pinpointProjectId": "", "deeplink": ""},
        "liveChatShowOfflineForm": channel.is_live_chat,
        "liveChatOfflineForm": {"isEnabled": channel.is_live_chat, "isCustom": False, "html": ""},
        "liveChatHiddenOnOffline": False,
        "liveChatAllowTranscript": False,
        "liveChatTranscriptChannelId": "",
        "hasMultipleThreadsPerEndUser": channel.multi_thread,
        "isProactiveChatEnabled": False,
        "liveChatAllowAudioNotification": False,
        "isGroupChatAllowed": False,
        "canCustomerInviteToGroupChat": False,
        "canAgentInviteToGroupChat": False,
        "platformChannelIdToSendInvitationCode": "",
        "emailInvitationContent": "",
        "emailInvitationLink": "",
        "enableChatTypingPreview": False,
        "chatRedesign": False,
    }


def cxone_channel_info(
    channel: Channel,
    *,
    locale: str,
    availability: str,
    pre_contact_fields: Iterable[CustomFieldDefinition],
    customer_fields: Iterable[CustomFieldDefinition],
    contact_fields: Iterable[CustomFieldDefinition],
) -> dict[str, Any]:
    pre_contact = list(pre_contact_fields)
    translations = channel.translations_for(locale)
    if channel.welcome_message and "welcomeMessage" not in translations:
        translations = {**translations, "welcomeMessage": channel.welcome_message}
    return {
        "name": channel.name,
        "channelId": channel.channel_id,
        "channelIdOnExternalPlatform": channel.channel_id,
        "brandId": channel.brand.brand_id,
        "isLiveChat": channel.is_live_chat,
        "availability": {"status": availability},
        "isAuthorizationEnabled": channel.auth_mode == Channel.AuthMode.THIRD_PARTY,
        "isSecuredCookieEnabled": channel.auth_mode == Channel.AuthMode.SECURED_COOKIES,
        "isUnsecuredConnectionAllowed": channel.auth_mode == Channel.AuthMode.NONE,
        "securedSession": None if channel.auth_mode == Channel.AuthMode.NONE else channel.auth_mode,
        "settings": _settings(channel),
        "translations": translations,
        "colors": dict(channel.theme or {}),
        "widget": {"appearance": "bubble", "position": "right", "display": channel.display},
        "popups": [],
        "customCss": "",
        "customJs": "",
        "customJsFiles": "",
        "preContactForm": {
            "id": f"{channel.channel_id}-pre-contact",
            "name": f"{channel.name} pre-chat form",
            "channels": [{"id": channel.channel_id}],
            "customFields": [
                {"isRequired": definition.required, "definition": cxone_custom_field_definition(definition)}
                for definition in pre_contact
            ],
        }
        if pre_contact
        else None,
        "endUserCustomFields": [cxone_custom_field_definition(d) for d in customer_fields],
        "caseCustomFields": [cxone_custom_field_definition(d) for d in contact_fields],
        "webSecurityConfiguration": {"contentSecurityPolicy": {"default-src": ["'self'"]}},
    }
