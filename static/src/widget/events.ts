/** The visitor protocol's requests, typed (reference §5.2). Each returns the
 * normalised answer frame; see protocol.ts for transport and correlation. */
import type { Frame, VisitorClient } from "./protocol";
import { newEventId } from "./protocol";

export type CustomField = { ident: string; value: string };

export interface OutgoingMessage {
  threadId: string;
  text?: string;
  postback?: string;
  attachments?: Array<{ url: string; friendlyName: string }>;
  customerFields?: CustomField[];
  contactFields?: CustomField[];
  messageId?: string;
}

const thread = (threadId: string) => ({ thread: { idOnExternalPlatform: threadId } });

export function browserFingerprint(): Record<string, unknown> {
  return {
    browser: "",
    browserVersion: "",
    country: "",
    ip: null,
    language: navigator.language,
    location: Intl.DateTimeFormat().resolvedOptions().timeZone || "",
    os: "",
    osVersion: "",
    deviceType: /Mobi/.test(navigator.userAgent) ? "mobile" : "desktop",
    applicationType: "browser",
  };
}

/** The SendMessage data of a text, postback or attachment message. */
export function messageData(message: OutgoingMessage): Record<string, unknown> {
  const payload: Record<string, unknown> = { text: message.text || "" };
  const content: Record<string, unknown> = { type: "TEXT", payload };
  if (message.postback) {
    payload.postback = message.postback;
    content.postback = message.postback;
  }
  return {
    messageContent: content,
    browserFingerprint: browserFingerprint(),
    idOnExternalPlatform: message.messageId || newEventId(),
    ...thread(message.threadId),
    consumer: { customFields: message.customerFields || [] },
    consumerContact: { customFields: message.contactFields || [] },
    attachments: message.attachments || [],
  };
}

/** SendMessage; in third-party sessions the access token rides along (reference §5.3). */
export const sendMessage = (client: VisitorClient, message: OutgoingMessage): Promise<Frame> =>
  client.request("SendMessage", {
    ...messageData(message),
    ...(client.thirdPartyToken ? { accessToken: { token: client.thirdPartyToken } } : {}),
  });

export const recoverThread = (client: VisitorClient, threadId: string | undefined, live: boolean): Promise<Frame> =>
  client.request(live ? "RecoverLivechat" : "RecoverThread", threadId ? thread(threadId) : {});

export const fetchThreadList = (client: VisitorClient): Promise<Frame> => client.request("FetchThreadList", {});

export const loadMoreMessages = (
  client: VisitorClient,
  threadId: string,
  scrollToken: string,
  oldestMessageDatetime: string,
  contactId?: string,
): Promise<Frame> =>
  client.request("LoadMoreMessages", {
    scrollToken,
    oldestMessageDatetime,
    ...thread(threadId),
    ...(contactId ? { contact: { id: contactId } } : {}),
  });

export const archiveThread = (client: VisitorClient, threadId: string): Promise<Frame> =>
  client.request("ArchiveThread", thread(threadId));

export const renameThread = (client: VisitorClient, threadId: string, threadName: string): Promise<Frame> =>
  client.request("UpdateThread", { thread: { idOnExternalPlatform: threadId, threadName } });

export const markSeen = (client: VisitorClient, threadId: string): Promise<Frame> =>
  client.request("MessageSeenByConsumer", thread(threadId));

export const typing = (client: VisitorClient, threadId: string, started: boolean): void =>
  client.notify(started ? "SenderTypingStarted" : "SenderTypingEnded", thread(threadId));

export const endContact = (client: VisitorClient, threadId: string, contactId: string): Promise<Frame> =>
  client.request("EndContact", { ...thread(threadId), contact: { id: contactId } });

export const setCustomerFields = (client: VisitorClient, fields: CustomField[]): Promise<Frame> =>
  client.request("SetConsumerCustomFields", { customFields: fields });

/** SendPageViews: the visitor's page trail (from the chat manager) on the thread, for agents. */
export const sendPageViews = (client: VisitorClient, threadId: string, pageViews: unknown[]): Promise<Frame> =>
  client.request("SendPageViews", { ...thread(threadId), pageViews });

/** StoreVisitor: the page API's extra values, kept on the customer as custom variables. */
export const storeVisitor = (client: VisitorClient, values: Record<string, string>): Promise<Frame> =>
  client.request("StoreVisitor", {
    customVariables: Object.entries(values).map(([identifier, value]) => ({ identifier, value })),
  });

/** SendOfflineMessage: the name splits on its last word (first names, last name). */
export function sendOfflineMessage(
  client: VisitorClient,
  form: { name: string; email: string; message: string },
): Promise<Frame> {
  const words = form.name.trim().split(/\s+/);
  const lastName = words.length > 1 ? words.pop() || "" : "";
  return client.request("SendOfflineMessage", {
    messageContent: { type: "TEXT", payload: { text: form.message } },
    authorCustomerIdentity: { idOnExternalPlatform: form.email, firstName: words.join(" "), lastName },
  });
}
