/** The widget's texts: English defaults, overridden by the channel's translations
 * for the visitor's language (keys as in the channel info's `translations`). */

export const DEFAULTS = {
  weAreOnline: "Chat with us",
  weAreOffline: "Leave us a message",
  title: "Chat",
  minimize: "Minimise chat",
  close: "Close chat",
  placeholder: "Write a message…",
  send: "Send",
  attach: "Attach a file",
  emoji: "Insert emoji",
  conversations: "Conversations",
  newConversation: "New conversation",
  rename: "Rename",
  renamePrompt: "Name of the conversation",
  archive: "Archive",
  archived: "Archived",
  back: "Back to conversations",
  untitled: "Conversation",
  startChat: "Start chat",
  endChat: "End chat",
  chatEnded: "The chat has ended.",
  newChat: "Start a new chat",
  queuePosition: "You are number {n} in the queue.",
  agentJoined: "{name} joined the chat.",
  agentLeft: "{name} left the chat.",
  agentTyping: "{name} is typing…",
  someone: "An agent",
  you: "You",
  sending: "Sending",
  sent: "Sent",
  delivered: "Delivered",
  seen: "Seen",
  failed: "Not sent",
  retry: "Retry",
  offlineIntro: "Nobody is available right now. Leave a message and we will write back.",
  name: "Name",
  email: "E-mail",
  message: "Message",
  required: "required",
  offlineSent: "Thank you! We will get back to you.",
  fileTooBig: "The file is larger than {n} MB.",
  fileType: "This type of file is not allowed.",
  uploadFailed: "The file could not be sent.",
  connectionLost: "Reconnecting…",
  unavailable: "The chat is not available right now. Please try again later.",
  loadOlder: "Show older messages",
  newMessage: "New message from {name}",
  openLink: "Open link",
};

export type Texts = typeof DEFAULTS;

export function texts(translations: Record<string, Record<string, string>> | undefined, language: string): Texts {
  const all = translations || {};
  const locale = language.replace("-", "_");
  return { ...DEFAULTS, ...all.en, ...all[locale.split("_")[0]], ...all[locale] };
}

export function format(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : `{${key}}`));
}
