/** The agent console: inbox, conversation and visitor context on top of the agent
 * API (writes) and the console socket (live updates). See docs/console.md. */

import "./console.css";
import { el } from "../common/escape";
import { Api, ApiError } from "./api";
import { renderPanel } from "./panel";
import { ReplySender } from "./replies";
import { messageItem } from "./render";
import { ConsoleSocket, type SocketState } from "./socket";
import { MessageStore } from "./store";
import { Notifier } from "./notify";
import type { AgentRef, CannedResponse, Contact, DomainEvent, FieldDefinition, Message, ServerFrame, ThreadDetail } from "./types";

interface Config {
  agent: { id: number; name: string; role: string; presence: string };
  tenant: { id: number; slug: string; name: string };
  api: string;
  socket: string;
}

interface Page<T> {
  count: number;
  results: T[];
}

interface MessagePage {
  results: Message[];
  has_more: boolean;
  last_sequence: number;
}

interface Agent extends AgentRef {
  username: string;
  presence: string;
  load: number;
  max_concurrent_contacts: number;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const TYPING_IDLE_MS = 4000;
const OPEN_STATUSES = new Set(["new", "open", "pending", "escalated"]);

function since(iso: string | null): string {
  if (!iso) return "";
  const minutes = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 60000));
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} d`;
}

class ConsoleApp {
  readonly api: Api;
  readonly socket: ConsoleSocket;
  private readonly replies: ReplySender;
  private readonly notifier = new Notifier();
  private view = "mine";
  private contacts: Contact[] = [];
  private selected = -1;
  private thread: ThreadDetail | null = null;
  private store = new MessageStore();
  private hasOlder = false;
  private agents: Agent[] = [];
  private queues: Array<{ id: number; name: string }> = [];
  private definitions: FieldDefinition[] = [];
  private canned: CannedResponse[] = [];
  private typingSent = false;
  private typingTimer: number | undefined;
  private visitorTypingTimer: number | undefined;
  private inboxTimer: number | undefined;
  private pendingAttachments: Array<{ id: string; file_name: string }> = [];
  private knownQueue = new Set<number>();

  constructor(private readonly config: Config) {
    this.api = new Api(config.api, config.tenant.slug);
    this.socket = new ConsoleSocket(config.socket, {
      frame: (frame) => this.onFrame(frame),
      state: (state) => this.onSocketState(state),
      resyncMap: () => (this.thread ? { [String(this.thread.id)]: this.store.lastContiguous } : {}),
      reconnected: () => this.refreshInbox(),
      failing: () => void this.checkSession(),
    });
    this.replies = new ReplySender(this.socket, this.api);
  }

  async start(): Promise<void> {
    this.bind();
    this.socket.connect();
    const [agents, queues, definitions, canned] = await Promise.all([
      this.api.get<Agent[]>("/agents/"),
      this.api.get<Array<{ id: number; name: string }>>("/queues/"),
      this.api.get<FieldDefinition[]>("/custom-fields/"),
      this.api.get<CannedResponse[]>("/canned-responses/"),
    ]);
    this.agents = agents;
    this.queues = queues;
    this.definitions = definitions;
    this.canned = canned;
    await this.refreshInbox();
    document.body.dataset.ready = "1";
  }

  /** A socket that keeps failing may mean the session ended: then go to the login page. */
  private async checkSession(): Promise<void> {
    try {
      await this.api.get("/presence/");
    } catch (failure) {
      if (failure instanceof ApiError && (failure.status === 401 || failure.status === 403)) {
        this.socket.stop();
        window.location.assign(`/accounts/login/?next=${encodeURIComponent(window.location.pathname + window.location.search)}`);
      }
    }
  }

  // --- Inbox --------------------------------------------------------------------

  private async refreshInbox(): Promise<void> {
    const query = new URLSearchParams({ view: this.view, limit: "100" });
    const q = $<HTMLInputElement>("search").value.trim();
    if (q) query.set("q", q);
    const channel = $<HTMLSelectElement>("channel-filter").value;
    if (channel) query.set("channel", channel);
    const [page, counts, queue] = await Promise.all([
      this.api.get<Page<Contact>>(`/contacts/?${query}`),
      this.api.get<{ mine: number; queue: number; unread: number }>("/inbox/counts/"),
      this.api.get<Page<Contact>>("/contacts/?view=queue&limit=100"),
    ]);
    this.contacts = page.results;
    document.querySelector('[data-count="mine"]')!.textContent = String(counts.mine);
    document.querySelector('[data-count="queue"]')!.textContent = String(counts.queue);
    this.noticeNewInQueue(queue.results);
    this.fillChannelFilter(page.results.concat(queue.results));
    this.renderInbox();
  }

  private noticeNewInQueue(waiting: Contact[]): void {
    const fresh = waiting.filter((contact) => !this.knownQueue.has(contact.id));
    const first = this.knownQueue.size === 0 && !document.body.dataset.started;
    document.body.dataset.started = "1";
    this.knownQueue = new Set(waiting.map((contact) => contact.id));
    if (!first && fresh.length) this.notifier.newContact(fresh[0].thread.customer.name || "Visitor");
  }

  private fillChannelFilter(contacts: Contact[]): void {
    const select = $<HTMLSelectElement>("channel-filter");
    const present = new Set([...select.options].map((option) => option.value));
    for (const contact of contacts) {
      const channel = contact.thread.channel;
      if (!present.has(String(channel.id))) {
        select.append(el("option", { value: String(channel.id) }, channel.name));
        present.add(String(channel.id));
      }
    }
  }

  private scheduleInbox(): void {
    window.clearTimeout(this.inboxTimer);
    this.inboxTimer = window.setTimeout(() => void this.refreshInbox(), 150);
  }

  private renderInbox(): void {
    const list = $<HTMLUListElement>("contact-list");
    list.replaceChildren();
    this.contacts.forEach((contact, index) => {
      const customer = contact.thread.customer;
      const active = this.thread?.id === contact.thread.id;
      const item = el(
        "li",
        {
          class: `contact${active ? " active" : ""}${contact.unread_count ? " unread" : ""}`,
          role: "option",
          "aria-selected": String(index === this.selected),
          "data-thread": String(contact.thread.id),
          "data-testid": "contact",
          tabindex: "-1",
        },
        el("span", { class: "name" }, customer.name || customer.id_on_external_platform),
        el("span", { class: `status status-${contact.status}` }, contact.status),
        el("span", { class: "channel" }, contact.thread.channel.name),
        el("span", { class: "when" }, contact.waiting_since ? `waiting ${since(contact.waiting_since)}` : since(contact.thread.last_message_at)),
      );
      if (contact.unread_count) item.append(el("span", { class: "unread-count", "aria-label": "unread messages" }, String(contact.unread_count)));
      if (contact.assigned_agent && contact.assigned_agent.id !== this.config.agent.id) {
        item.append(el("span", { class: "agent" }, contact.assigned_agent.name));
      }
      item.addEventListener("click", () => {
        this.selected = index;
        void this.open(contact.thread.id);
      });
      list.append(item);
    });
    $("list-empty").hidden = this.contacts.length > 0;
  }

  private moveSelection(step: number): void {
    if (!this.contacts.length) return;
    this.selected = Math.max(0, Math.min(this.contacts.length - 1, this.selected + step));
    this.renderInbox();
    const item = $<HTMLUListElement>("contact-list").children[this.selected] as HTMLElement | undefined;
    item?.focus();
    item?.scrollIntoView({ block: "nearest" });
  }

  // --- Conversation ---------------------------------------------------------------

  async open(threadId: number): Promise<void> {
    this.stopTyping();
    const [detail, page] = await Promise.all([
      this.api.get<ThreadDetail>(`/threads/${threadId}/`),
      this.api.get<MessagePage>(`/threads/${threadId}/messages/?limit=50`),
    ]);
    this.thread = detail;
    this.store = new MessageStore();
    this.store.add(page.results);
    this.hasOlder = page.has_more;
    this.pendingAttachments = [];
    $("placeholder").hidden = true;
    $("thread").hidden = false;
    $("layout").dataset.pane = "thread";
    this.renderThreadHead();
    this.renderMessages(true);
    this.renderContext();
    this.renderInbox();
    this.markSeen();
    $<HTMLTextAreaElement>("reply").focus();
  }

  private get contact(): ThreadDetail["contact"] {
    return this.thread?.contact ?? null;
  }

  private isMine(): boolean {
    const contact = this.contact;
    return !!contact && OPEN_STATUSES.has(contact.status) && contact.assigned_agent?.id === this.config.agent.id;
  }

  private canAct(): boolean {
    return this.isMine() || (this.config.agent.role === "admin" && !!this.contact && OPEN_STATUSES.has(this.contact.status));
  }

  private renderThreadHead(): void {
    const thread = this.thread!;
    const contact = this.contact;
    $("thread-title").textContent = thread.customer.name || thread.customer.id_on_external_platform;
    const owner = contact?.assigned_agent ? `with ${contact.assigned_agent.name}` : contact && OPEN_STATUSES.has(contact.status) ? "waiting in queue" : "";
    $("thread-sub").textContent = [thread.channel.name, contact ? contact.status : "no contact", owner, thread.is_locked ? "locked" : ""]
      .filter(Boolean)
      .join(" · ");
    const open = !!contact && OPEN_STATUSES.has(contact.status);
    const waiting = open && !contact!.assigned_agent;
    const live = thread.channel.kind === "livechat";
    const act = this.canAct();
    $("accept").hidden = !waiting;
    const status = $<HTMLSelectElement>("status");
    status.value = contact?.status === "new" ? "open" : contact?.status ?? "open";
    status.disabled = !act;
    $<HTMLButtonElement>("resolve").disabled = !act;
    $("resolve").hidden = !open;
    $("end").hidden = !(live && open);
    $<HTMLButtonElement>("end").disabled = !act;
    $("lock").hidden = live;
    $("lock").textContent = thread.is_locked ? "Unlock" : "Lock";
    $<HTMLButtonElement>("lock").disabled = open && !act;
    const transfer = $<HTMLSelectElement>("transfer-target");
    const chosen = transfer.value;
    transfer.replaceChildren();
    for (const agent of this.agents) {
      if (agent.id === contact?.assigned_agent?.id) continue;
      transfer.append(el("option", { value: `agent:${agent.id}` }, `${agent.name} (${agent.presence}, ${agent.load}/${agent.max_concurrent_contacts})`));
    }
    for (const queue of this.queues) transfer.append(el("option", { value: `queue:${queue.id}` }, `Queue: ${queue.name}`));
    if ([...transfer.options].some((option) => option.value === chosen)) transfer.value = chosen;
    (document.querySelector(".more") as HTMLDetailsElement).hidden = !act;
    const composer = $<HTMLFormElement>("composer");
    const mode = composer.dataset.mode;
    const replyAllowed = act || !open;
    $<HTMLButtonElement>("send").disabled = mode === "reply" && !replyAllowed;
    $<HTMLTextAreaElement>("reply").placeholder =
      mode === "note"
        ? "Write an internal note — the visitor never sees it"
        : replyAllowed
          ? "Write a reply… Enter sends, Shift+Enter adds a line, / for canned responses"
          : "Accept the contact to reply (internal notes are always possible)";
  }

  private renderMessages(scrollToEnd: boolean): void {
    const history = $("history");
    const atEnd = history.scrollHeight - history.scrollTop - history.clientHeight < 40;
    const list = $<HTMLOListElement>("messages");
    const name = this.thread?.customer.name || "Visitor";
    list.replaceChildren(...this.store.list().map((message) => messageItem(message, name)));
    $("older").hidden = !this.hasOlder;
    if (scrollToEnd || atEnd) history.scrollTop = history.scrollHeight;
  }

  private renderContext(): void {
    if (!this.thread) return;
    renderPanel($("context"), this.thread, this.definitions, this.canAct(), (scope, ident, value) => this.saveField(scope, ident, value), (id) => void this.open(id));
  }

  private async saveField(scope: "customer" | "contact", ident: string, value: string): Promise<void> {
    if (!this.thread) return;
    if (scope === "contact" && this.contact) {
      await this.api.patch(`/contacts/${this.contact.id}/custom-fields/`, { values: { [ident]: value } });
      this.contact.custom_fields[ident] = value;
    } else {
      await this.api.patch(`/customers/${this.thread.customer.id}/`, { custom_fields: { [ident]: value } });
      this.thread.customer.custom_fields[ident] = value;
    }
  }

  private async reloadThread(): Promise<void> {
    if (!this.thread) return;
    this.thread = await this.api.get<ThreadDetail>(`/threads/${this.thread.id}/`);
    this.renderThreadHead();
    this.renderContext();
  }

  private async loadOlder(): Promise<void> {
    if (!this.thread) return;
    const history = $("history");
    const before = history.scrollHeight;
    const page = await this.api.get<MessagePage>(`/threads/${this.thread.id}/messages/?before=${this.store.firstSequence}&limit=50`);
    this.store.add(page.results);
    this.hasOlder = page.has_more;
    this.renderMessages(false);
    history.scrollTop = history.scrollHeight - before;
  }

  private markSeen(): void {
    if (!this.thread || document.hidden) return;
    const unseen = this.store.list().some((message) => message.direction === "inbound" && !message.seen_at);
    if (!unseen) return;
    const upTo = this.store.lastContiguous;
    this.socket.send({ type: "seen", thread_id: this.thread.id, up_to_sequence: upTo });
    for (const message of this.store.list()) if (message.direction === "inbound" && message.sequence <= upTo) message.seen_at = new Date().toISOString();
    const row = this.contacts.find((contact) => contact.thread.id === this.thread!.id);
    if (row && row.unread_count) {
      row.unread_count = 0;
      this.renderInbox();
    }
  }

  // --- Writing ------------------------------------------------------------------------

  private async send(): Promise<void> {
    if (!this.thread) return;
    const textarea = $<HTMLTextAreaElement>("reply");
    const text = textarea.value.trim();
    const note = $<HTMLFormElement>("composer").dataset.mode === "note";
    if (!text && !this.pendingAttachments.length) return;
    const error = $("composer-error");
    error.textContent = "";
    const attachmentIds = note ? [] : this.pendingAttachments.map((file) => file.id);
    try {
      const message = await this.replies.send({ threadId: this.thread.id, text, isInternal: note, attachmentIds });
      textarea.value = "";
      this.pendingAttachments = [];
      $("pending-files").textContent = "";
      this.stopTyping();
      if (this.store.add([message]).length) this.renderMessages(true);
    } catch (failure) {
      error.textContent = failure instanceof Error ? failure.message : "Not sent";
    }
  }

  private onComposerInput(): void {
    const textarea = $<HTMLTextAreaElement>("reply");
    this.showCanned(textarea.value);
    if (!this.thread || $<HTMLFormElement>("composer").dataset.mode === "note" || !this.canAct()) return;
    if (!this.typingSent && textarea.value) {
      this.typingSent = this.socket.send({ type: "typing", thread_id: this.thread.id, is_typing: true });
    }
    window.clearTimeout(this.typingTimer);
    this.typingTimer = window.setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  private stopTyping(): void {
    window.clearTimeout(this.typingTimer);
    if (this.typingSent && this.thread) this.socket.send({ type: "typing", thread_id: this.thread.id, is_typing: false });
    this.typingSent = false;
  }

  private showCanned(value: string): void {
    const list = $<HTMLUListElement>("canned");
    const match = /^\/([\w-]*)$/.exec(value);
    if (!match) {
      list.hidden = true;
      return;
    }
    const prefix = match[1].toLowerCase();
    const found = this.canned.filter((item) => item.shortcut.startsWith(prefix) || item.title.toLowerCase().includes(prefix)).slice(0, 8);
    list.replaceChildren(
      ...found.map((item, index) => {
        const option = el("li", { role: "option", tabindex: "-1", "aria-selected": String(index === 0), "data-shortcut": item.shortcut }, el("strong", {}, `/${item.shortcut}`), " ", item.title);
        option.addEventListener("mousedown", (event) => {
          event.preventDefault();
          this.insertCanned(item);
        });
        return option;
      }),
    );
    list.hidden = found.length === 0;
  }

  private insertCanned(item: CannedResponse): void {
    const textarea = $<HTMLTextAreaElement>("reply");
    textarea.value = item.text;
    $("canned").hidden = true;
    textarea.focus();
  }

  private async upload(file: File): Promise<void> {
    if (!this.thread) return;
    const form = new FormData();
    form.append("thread_id", String(this.thread.id));
    form.append("file", file);
    const error = $("composer-error");
    try {
      const attachment = await this.api.request<{ id: string; file_name: string }>("POST", "/attachments/", form);
      this.pendingAttachments.push(attachment);
      $("pending-files").textContent = this.pendingAttachments.map((item) => item.file_name).join(", ");
      error.textContent = "";
    } catch (failure) {
      error.textContent = failure instanceof Error ? failure.message : "Upload failed";
    }
  }

  // --- Actions -------------------------------------------------------------------------

  private async act(action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
      await Promise.all([this.reloadThread(), this.refreshInbox()]);
    } catch (failure) {
      this.toast(failure instanceof ApiError ? failure.message : "That did not work.");
    }
  }

  private toast(text: string): void {
    const toast = $("toast");
    toast.textContent = text;
    toast.hidden = false;
    window.setTimeout(() => (toast.hidden = true), 4000);
  }

  // --- Live updates ---------------------------------------------------------------------

  private onSocketState(state: SocketState): void {
    const node = $("connection");
    node.dataset.state = state;
    node.textContent = { connecting: "Connecting…", open: "Live", closed: "Reconnecting…", refused: "Signed out" }[state];
  }

  private onFrame(frame: ServerFrame): void {
    if (frame.type === "message") this.onMessage(frame.thread_id, frame.message);
    else if (frame.type === "messages") this.onResync(frame.thread_id, frame.messages);
    else if (frame.type === "event") this.onEvent(frame.event);
    else if (frame.type === "welcome") this.setPresence(frame.agent.presence);
  }

  private onMessage(threadId: number, message: Message): void {
    this.scheduleInbox();
    if (this.thread?.id !== threadId) return;
    if (this.store.isGap(message.sequence)) {
      this.socket.send({ type: "resync", threads: { [String(threadId)]: this.store.lastContiguous } });
    }
    if (this.store.add([message]).length) {
      if (message.direction === "inbound") this.setVisitorTyping(false);
      this.renderMessages(false);
      this.markSeen();
    }
  }

  private onResync(threadId: number, messages: Message[]): void {
    if (this.thread?.id !== threadId) return;
    if (this.store.add(messages).length) {
      this.renderMessages(false);
      this.markSeen();
    }
  }

  private onEvent(event: DomainEvent): void {
    const current = this.thread && event.thread_id === this.thread.id;
    switch (event.event) {
      case "typing.changed":
        if (current && event.actor === "customer") this.setVisitorTyping(!!event.is_typing);
        return;
      case "messages.seen":
      case "messages.delivered":
        if (event.reader === "agent") this.scheduleInbox();
        if (current && event.reader === "customer" && this.store.markRead(Number(event.up_to_sequence), event.event === "messages.seen" ? "seen_at" : "delivered_at", new Date().toISOString()).length) {
          this.renderMessages(false);
        }
        return;
      case "contact.assigned":
        if (event.agent_id === this.config.agent.id && event.previous_agent_id !== this.config.agent.id) this.notifier.newContact("Assigned to you");
        break;
      case "presence.changed":
        if (event.membership_id === this.config.agent.id) this.setPresence(String(event.presence));
        void this.api.get<Agent[]>("/agents/").then((agents) => (this.agents = agents));
        return;
      case "queue.position_changed":
        return;
    }
    this.scheduleInbox();
    if (current && event.event !== "message.created") void this.reloadThread();
  }

  private setVisitorTyping(typing: boolean): void {
    const node = $("typing");
    window.clearTimeout(this.visitorTypingTimer);
    node.hidden = !typing;
    node.textContent = typing ? `${this.thread?.customer.name || "The visitor"} is typing…` : "";
    if (typing) this.visitorTypingTimer = window.setTimeout(() => this.setVisitorTyping(false), 15000);
  }

  private setPresence(presence: string): void {
    $<HTMLSelectElement>("presence").value = presence;
  }

  // --- Wiring --------------------------------------------------------------------------------

  private bind(): void {
    for (const tab of document.querySelectorAll<HTMLButtonElement>(".tab")) {
      tab.addEventListener("click", () => this.selectView(tab.dataset.view || "mine"));
    }
    $("search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      void this.refreshInbox();
    });
    $("search").addEventListener("input", () => this.scheduleInbox());
    $("channel-filter").addEventListener("change", () => void this.refreshInbox());
    $("presence").addEventListener("change", () => {
      const presence = $<HTMLSelectElement>("presence").value;
      void this.api.put("/presence/", { presence }).then(() => this.scheduleInbox(), () => this.toast("Presence not changed."));
    });
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      void this.send();
    });
    for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="mode"]')) {
      radio.addEventListener("change", () => {
        $<HTMLFormElement>("composer").dataset.mode = radio.value;
        if (radio.value === "note") this.stopTyping();
        if (this.thread) this.renderThreadHead();
      });
    }
    const reply = $<HTMLTextAreaElement>("reply");
    reply.addEventListener("input", () => this.onComposerInput());
    reply.addEventListener("keydown", (event) => {
      const canned = $("canned");
      if (!canned.hidden && (event.key === "Enter" || event.key === "Tab")) {
        const first = this.canned.find((item) => item.shortcut === (canned.firstElementChild as HTMLElement | null)?.dataset.shortcut);
        if (first) {
          event.preventDefault();
          this.insertCanned(first);
          return;
        }
      }
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        void this.send();
      }
    });
    $<HTMLInputElement>("file").addEventListener("change", (event) => {
      const input = event.target as HTMLInputElement;
      if (input.files?.[0]) void this.upload(input.files[0]);
      input.value = "";
    });
    $("older").addEventListener("click", () => void this.loadOlder());
    $("back").addEventListener("click", () => this.back());
    $("accept").addEventListener("click", () => void this.act(() => this.api.post(`/contacts/${this.contact!.id}/assign/`)));
    $("resolve").addEventListener("click", () => void this.act(() => this.api.post(`/contacts/${this.contact!.id}/status/`, { status: "resolved" })));
    $("status").addEventListener("change", () => {
      const status = $<HTMLSelectElement>("status").value;
      void this.act(() => this.api.post(`/contacts/${this.contact!.id}/status/`, { status }));
    });
    $("end").addEventListener("click", () => void this.act(() => this.api.post(`/contacts/${this.contact!.id}/end/`)));
    $("lock").addEventListener("click", () => void this.act(() => this.api.post(`/threads/${this.thread!.id}/${this.thread!.is_locked ? "unlock" : "lock"}/`)));
    $("transfer").addEventListener("click", () => {
      const [kind, id] = $<HTMLSelectElement>("transfer-target").value.split(":");
      const body = kind === "agent" ? { agent_id: Number(id) } : { queue_id: Number(id) };
      void this.act(() => this.api.post(`/contacts/${this.contact!.id}/transfer/`, body));
    });
    (document.querySelector(".more") as HTMLDetailsElement).addEventListener("toggle", (event) => {
      if (!(event.target as HTMLDetailsElement).open) return;
      void this.api.get<Agent[]>("/agents/").then((agents) => {
        this.agents = agents;
        if (this.thread) this.renderThreadHead();
      });
    });
    $("unassign").addEventListener("click", () => void this.act(() => this.api.post(`/contacts/${this.contact!.id}/unassign/`)));
    document.addEventListener("keydown", (event) => this.onKey(event));
    document.addEventListener("visibilitychange", () => this.markSeen());
    window.addEventListener("focus", () => this.markSeen());
  }

  private selectView(view: string): void {
    this.view = view;
    for (const tab of document.querySelectorAll<HTMLButtonElement>(".tab")) tab.setAttribute("aria-selected", String(tab.dataset.view === view));
    this.selected = -1;
    void this.refreshInbox();
  }

  private back(): void {
    $("layout").dataset.pane = "inbox";
    $<HTMLUListElement>("contact-list").focus();
  }

  private onKey(event: KeyboardEvent): void {
    const target = event.target as HTMLElement;
    const typing = target.matches("input, textarea, select, [contenteditable]");
    if (event.key === "Escape") {
      if (!$("canned").hidden) {
        $("canned").hidden = true;
        return;
      }
      if (typing) target.blur();
      else this.back();
      return;
    }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "j" || event.key === "ArrowDown") {
      event.preventDefault();
      this.moveSelection(1);
    } else if (event.key === "k" || event.key === "ArrowUp") {
      event.preventDefault();
      this.moveSelection(-1);
    } else if (event.key === "Enter" && this.selected >= 0 && target.closest("#contact-list")) {
      event.preventDefault();
      void this.open(this.contacts[this.selected].thread.id);
    } else if (event.key === "/") {
      event.preventDefault();
      $("search").focus();
    } else if (event.key === "r" && this.thread) {
      event.preventDefault();
      $("reply").focus();
    }
  }
}

const script = document.getElementById("parley-console-config");
if (script?.textContent) {
  const app = new ConsoleApp(JSON.parse(script.textContent) as Config);
  (window as unknown as { parleyConsole: ConsoleApp }).parleyConsole = app;
  void app.start();
}
