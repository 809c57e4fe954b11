/** Wire shapes of the agent API and the console socket (docs/agent-protocol.md). */

export interface AgentRef {
  id: number;
  name: string;
}

export interface Attachment {
  id: string;
  file_name: string;
  mime_type: string;
  size: number;
  url: string;
}

export interface Message {
  id: string;
  thread_id: number;
  sequence: number;
  client_id: string;
  direction: "inbound" | "outbound";
  author_type: "customer" | "agent" | "bot" | "system";
  author_agent: AgentRef | null;
  content_type: string;
  content: { text?: string; payload?: Record<string, unknown>; postback?: string | null; fallbackText?: string };
  is_internal: boolean;
  created_at: string;
  delivered_at: string | null;
  seen_at: string | null;
  attachments: Attachment[];
}

export interface Channel {
  id: number;
  channel_id: string;
  name: string;
  kind: "messaging" | "livechat" | "byoc";
}

export interface ThreadRef {
  id: number;
  public_id: string;
  name: string;
  channel: Channel;
  customer: { id: number; id_on_external_platform: string; name: string; is_verified: boolean };
  is_locked: boolean;
  last_sequence: number;
  last_message_at: string | null;
}

export interface Contact {
  id: number;
  status: string;
  thread: ThreadRef;
  queue: { id: number; name: string } | null;
  assigned_agent: AgentRef | null;
  custom_fields: Record<string, string>;
  created_at: string;
  waiting_since: string | null;
  unread_count: number;
}

export interface Customer {
  id: number;
  id_on_external_platform: string;
  name: string;
  first_name: string;
  last_name: string;
  email: string;
  is_verified: boolean;
  extra: Record<string, string>;
  custom_fields: Record<string, string>;
}

export interface ThreadDetail {
  id: number;
  public_id: string;
  name: string;
  channel: Channel;
  customer: Customer;
  is_locked: boolean;
  last_sequence: number;
  context: Record<string, unknown>;
  contact: {
    id: number;
    status: string;
    queue: { id: number; name: string } | null;
    assigned_agent: AgentRef | null;
    custom_fields: Record<string, string>;
  } | null;
  past_threads: Array<{ id: number; name: string; channel: Channel; created_at: string; latest_status: string | null }>;
}

export interface FieldDefinition {
  ident: string;
  label: string;
  scope: "customer" | "contact";
  field_type: "text" | "email" | "list" | "date";
  is_editable: boolean;
  choices: Array<{ value: string; label?: string }>;
}

export interface CannedResponse {
  id: number;
  title: string;
  shortcut: string;
  text: string;
}

export interface DomainEvent {
  event: string;
  tenant_id: number;
  thread_id?: number;
  channel_id?: number;
  contact_id?: number;
  agent_id?: number | null;
  previous_agent_id?: number | null;
  actor?: string;
  is_typing?: boolean;
  reader?: string;
  up_to_sequence?: number;
  membership_id?: number;
  presence?: string;
  [key: string]: unknown;
}

export type ServerFrame =
  | { type: "welcome"; protocol: number; agent: { id: number; name: string; role: string; presence: string }; tenant: { id: number; slug: string; name: string } }
  | { type: "messages"; thread_id: number; messages: Message[]; last_sequence: number; has_more: boolean; ref: unknown }
  | { type: "resynced"; ref: unknown }
  | { type: "message"; thread_id: number; message: Message }
  | { type: "event"; event: DomainEvent }
  | { type: "ack"; ref: unknown; marked?: number }
  | { type: "sent"; ref: unknown; thread_id: number; created: boolean; message: Message }
  | { type: "pong"; ref: unknown }
  | { type: "error"; code: string; message: string; ref: unknown };

export type ClientFrame =
  | { type: "resync"; threads: Record<string, number>; ref?: string | number }
  | { type: "typing"; thread_id: number; is_typing: boolean; ref?: string | number }
  | { type: "seen"; thread_id: number; up_to_sequence?: number; ref?: string | number }
  | {
      type: "send";
      thread_id: number;
      client_id: string;
      text?: string;
      content_type?: string;
      content?: Record<string, unknown>;
      is_internal?: boolean;
      attachment_ids?: string[];
      ref?: string | number;
    }
  | { type: "ping"; ref?: string | number };
