/** The chat client: launcher, window, views and the protocol conversation
 * (docs/frontend.md, "Widget"). Rendered in a shadow root with a constructed
 * stylesheet; every text comes in as a text node. */
import { engagementExpired } from "../common/engagement";
import type { ParleyContext, SessionStore, WidgetApi } from "../common/context";
import { el } from "../common/escape";
import { type ChannelSettings, fetchChannelInfo } from "./channelinfo";
import { Conversation, fromWire, type ChatMessage } from "./conversation";
import * as api from "./events";
import { type FileRules, fileProblem } from "./files";
import { type PreChatAnswer, offlineForm, preChatForm } from "./forms";
import { format, texts, type Texts } from "./i18n";
import { type AuthMode, type Frame, newEventId, ProtocolError, VisitorClient } from "./protocol";
import { messageRow } from "./render";
import { stylesheet, theme } from "./styles";

/** What the chat manager gathers for agents (event "chatmanager:context"). */
interface AgentContext {
  pageViews?: unknown[];
  customVariables?: Array<{ identifier: string; value: string }>;
}

interface ChatState {
  engaged?: boolean;
  open?: boolean;
  threadId?: string;
}


const SVG = "http://www.w3.org/2000/svg";
const CHAT_ICON = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z";
const SEND_ICON = "M3 20l18-8L3 4v6l12 2-12 2z";
const ATTACH_ICON =
  "M16.5 6v11.5a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10.5a1 1 0 0 1-2 0V6H10v9.5a2.5 2.5 0 0 0 5 0V5a4 4 0 0 0-8 0v12.5a5.5 5.5 0 0 0 11 0V6z";

function icon(path: string): SVGElement {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.appendChild(document.createElementNS(SVG, "path")).setAttribute("d", path);
  return svg;
}

function threadIdOf(data: any): string | undefined {
  return (
    data?.thread?.idOnExternalPlatform ||
    data?.case?.threadIdOnExternalPlatform ||
    data?.message?.threadIdOnExternalPlatform ||
    data?.messagePreview?.threadIdOnExternalPlatform
  );
}

function agentName(user: any, t: Texts): string {
  if (!user) return t.someone;
  return (user.nickname || `${user.firstName || ""} ${user.surname || ""}`).trim() || t.someone;
}

export class ChatWidget implements WidgetApi {
  readonly t: Texts;
  private host: HTMLElement;
  private shadow: ShadowRoot;
  private launcher: HTMLButtonElement | null = null;
  private badge = el("span", { class: "badge", hidden: "" });
  private frame: HTMLElement;
  private title = el("h2", { id: "parley-title" });
  private backButton = el("button", { type: "button", class: "icon", hidden: "" }, "←");
  private endButton: HTMLButtonElement;
  private body = el("div", { class: "body", role: "log", "aria-live": "polite", "aria-relevant": "additions" });
  private typingLine = el("div", { class: "typing", "aria-live": "polite" });
  private composer: HTMLFormElement;
  private input = el("textarea", { rows: "1" });
  private extras = el("div");
  private client: VisitorClient | null = null;
  private connecting: Promise<VisitorClient> | null = null;
  private conversation: Conversation | null = null;
  private contactId: string | undefined;
  private contactClosed = false;
  private scrollToken = "";
  private unread = 0;
  private typingSent = false;
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  private pendingFields: PreChatAnswer | null = null;
  private settings: ChannelSettings = {
    translations: {},
    colors: {},
    welcome: "",
    files: { enabled: false, maxSizeMb: 0, types: [] },
    preContactFields: [],
  };
  private settingsLoaded: Promise<void> | null = null;
  private agentContext: AgentContext | null = null;
  private extrasSent = "";
  private signedIdRefused = false;
  private attach = el("button", { type: "button", class: "icon", hidden: "" }, icon(ATTACH_ICON));
  private picker = el("input", { type: "file", hidden: "", "aria-hidden": "true", tabindex: "-1" });
  private opened = false;
  private proactiveWelcome = "";
  private readonly embedded: boolean;
  private readonly live: boolean;

  constructor(
    private context: ParleyContext,
    private session: SessionStore,
  ) {
    const config = context.config;
    this.live = config.isLiveChat;
    this.t = texts(config.translations as any, navigator.language);
    this.host = document.createElement("parley-chat");
    this.shadow = this.host.attachShadow({ mode: "open" });
    this.shadow.adoptedStyleSheets = [stylesheet()];
    theme(this.host, config.theme as Record<string, string>);
    const container = config.display === "embedded" && config.container && document.querySelector(config.container);
    this.embedded = !!container;
    this.endButton = el("button", { type: "button", class: "link", hidden: "" }, this.t.endChat);
    this.composer = this.buildComposer();
    this.frame = this.buildWindow();
    if (container) container.append(this.host);
    else {
      this.launcher = this.buildLauncher();
      document.body.append(this.host);
    }
    this.shadow.append(...(this.launcher ? [this.launcher] : []), this.frame);
    session.watch("chat", (value) => this.syncFromOtherTab(value as ChatState | undefined));
    context.on("identity:changed", () => this.identityChanged());
    context.on("chatmanager:context", (detail) => {
      this.agentContext = detail as AgentContext;
      this.shareContext();
    });
  }

  // --- state persisted for continuity ------------------------------------------------

  private get state(): ChatState {
    return this.session.get<ChatState>("chat") || {};
  }

  private saveState(changes: ChatState): void {
    this.session.set("chat", { ...this.state, ...changes });
  }

  // --- page-facing API ------------------------------------------------------------------

  isOpen(): boolean {
    return !this.frame.hidden;
  }

  open(options: { restore?: boolean; message?: string; welcome?: string } = {}): void {
    if (options.welcome) {
      // A proactive welcome message (a trigger's action) replaces the channel's for this chat.
      this.proactiveWelcome = options.welcome;
      if (this.opened) this.notice(options.welcome);
    }
    if (options.restore && !this.embedded && engagementExpired(this.session)) {
      // Continuation ends after 24 hours without the visitor's activity (seed 003).
      this.saveState({ engaged: false });
      return;
    }
    const restoreMinimised = options.restore && !this.embedded && this.state.open === false;
    if (restoreMinimised) {
      this.showLauncher(true);
      this.start().catch((error) => this.fail(error));
      return;
    }
    this.frame.hidden = false;
    this.showLauncher(false);
    this.unread = 0;
    this.updateBadge();
    if (!options.restore || this.state.open !== true) this.saveState({ open: true });
    this.context.emit("widget:open");
    if (!this.opened) this.start().catch((error) => this.fail(error));
    else this.markSeen();
    if (options.message) this.input.value = options.message;
    this.input.focus();
  }

  minimize(): void {
    if (this.embedded) return;
    this.frame.hidden = true;
    this.showLauncher(true);
    this.saveState({ open: false });
    this.context.emit("widget:minimize");
    this.launcher?.focus();
  }

  // --- DOM ------------------------------------------------------------------------------

  private buildLauncher(): HTMLButtonElement {
    const button = el("button", { type: "button", class: "launcher", "aria-label": this.t.weAreOnline });
    button.title = this.t.weAreOnline;
    button.append(icon(CHAT_ICON), this.badge);
    button.addEventListener("click", () => this.open());
    return button;
  }

  private showLauncher(visible: boolean): void {
    if (!this.launcher) return;
    this.launcher.hidden = !visible;
    this.launcher.setAttribute("aria-expanded", String(!visible));
  }

  private updateBadge(): void {
    this.badge.hidden = this.unread === 0;
    this.badge.textContent = String(this.unread);
    this.launcher?.setAttribute(
      "aria-label",
      this.unread ? `${this.t.weAreOnline} (${this.unread})` : this.t.weAreOnline,
    );
  }

  private buildWindow(): HTMLElement {
    const frame = el("section", {
      class: this.embedded ? "window embedded" : "window",
      role: this.embedded ? "region" : "dialog",
      "aria-labelledby": "parley-title",
    });
    frame.hidden = !this.embedded;
    this.title.textContent = this.t.title;
    this.backButton.setAttribute("aria-label", this.t.back);
    this.backButton.addEventListener("click", () => this.showThreadList());
    this.endButton.addEventListener("click", () => this.endChat());
    const header = el("header", {}, this.backButton, this.title, this.endButton);
    if (!this.embedded) {
      const minimise = el("button", { type: "button", class: "icon", "aria-label": this.t.minimize }, "–");
      minimise.addEventListener("click", () => this.minimize());
      header.append(minimise);
    }
    frame.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.minimize();
    });
    frame.append(header, this.body, this.typingLine, this.extras, this.composer);
    return frame;
  }

  private buildComposer(): HTMLFormElement {
    const t = this.t;
    this.input.setAttribute("aria-label", t.placeholder);
    this.input.placeholder = t.placeholder;
    const send = el("button", { type: "submit", class: "icon", "aria-label": t.send }, icon(SEND_ICON));
    const form = el("form", { class: "composer" }, this.input);
    this.attach.setAttribute("aria-label", t.attach);
    this.attach.addEventListener("click", () => this.picker.click());
    this.picker.addEventListener("change", () => {
      const file = this.picker.files && this.picker.files[0];
      this.picker.value = "";
      if (file) this.sendFile(file, this.settings.files);
    });
    form.append(this.attach, this.picker);
    const emoji = el("button", { type: "button", class: "icon", "aria-label": t.emoji, "aria-expanded": "false" }, "☺");
    emoji.addEventListener("click", () => this.toggleEmoji(emoji));
    form.append(emoji, send);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submitText();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submitText();
      }
    });
    this.input.addEventListener("input", () => this.keystroke());
    form.hidden = true;
    return form;
  }

  private async toggleEmoji(button: HTMLButtonElement): Promise<void> {
    const open = button.getAttribute("aria-expanded") === "true";
    button.setAttribute("aria-expanded", String(!open));
    if (open) return this.extras.replaceChildren();
    const { emojiPanel } = await import("./emoji");
    this.extras.replaceChildren(
      emojiPanel((symbol) => {
        const at = this.input.selectionStart ?? this.input.value.length;
        this.input.value = this.input.value.slice(0, at) + symbol + this.input.value.slice(at);
        this.input.focus();
      }),
    );
  }

  private notice(text: string, role = "status"): HTMLElement {
    const line = el("p", { class: "notice", role }, text);
    this.body.append(line);
    this.scrollDown();
    return line;
  }

  private scrollDown(): void {
    this.body.scrollTop = this.body.scrollHeight;
  }

  /** Starting failed (refused token, refused socket, …): say so, and let the next open() retry. */
  private fail(error: unknown): void {
    console.error("Parley:", error);
    this.opened = false;
    this.client?.close();
    this.client = null;
    this.connecting = null;
    this.showComposer(false);
    this.body.replaceChildren();
    this.notice(this.t.unavailable, "alert");
  }

  // --- connection -----------------------------------------------------------------------

  /** Whether the page's signed customer id is to be used (not refused by the channel's auth mode). */
  private signedId(): boolean {
    const identity = this.session.identity();
    return !!(identity.customerId && identity.token) && !this.signedIdRefused;
  }

  private customerId(): string | undefined {
    const identity = this.session.identity();
    if (this.signedId()) return identity.customerId;
    const mode = this.context.config.authMode as AuthMode;
    if (mode === "securedCookies" || mode === "thirdParty") return undefined;
    let id = this.session.get<string>("customer");
    if (!id) {
      id = newEventId();
      this.session.set("customer", id);
    }
    return id;
  }

  private connect(): Promise<VisitorClient> {
    if (this.connecting) return this.connecting;
    const config = this.context.config;
    const identity = this.session.identity();
    const client = new VisitorClient({
      base: config.base,
      gateway: config.gateway,
      brandId: config.brandId,
      channelId: config.channelId,
      authMode: (config.authMode as AuthMode) || "anonymous",
      visitorId: this.session.visitorId,
      visitId: this.session.visitId,
      customerId: this.customerId(),
      identityToken: this.signedId() ? identity.token : undefined,
      authorizationCode: identity.authorizationCode,
      identity: () => {
        const name = (this.session.identity().name || "").trim();
        const space = name.indexOf(" ");
        return {
          firstName: space > 0 ? name.slice(0, space) : name || undefined,
          lastName: space > 0 ? name.slice(space + 1) : undefined,
          image: this.session.identity().avatar,
        };
      },
    });
    client.on("*", (frame) => this.onFrame(frame));
    client.on("reconnected", () => this.resync());
    client.on("close", () => this.typingLine.replaceChildren(this.t.connectionLost));
    client.on("open", () => this.typingLine.replaceChildren());
    this.client = client;
    this.connecting = client.connect().then(
      () => client,
      (error) => {
        this.connecting = null;
        if (error instanceof ProtocolError && error.code === "auth_mode_not_allowed" && this.signedId()) {
          // An anonymous channel takes no signed ids (only third-party channels do): chat anonymously.
          console.warn("Parley: this channel does not accept signed customer ids; the visitor chats anonymously.");
          this.signedIdRefused = true;
          return this.connect();
        }
        throw error;
      },
    );
    return this.connecting;
  }

  private identityChanged(): void {
    const identity = this.session.identity();
    const client = this.client;
    if (!client) return;
    if (this.signedId() && identity.customerId !== client.customerId) {
      // A different person: a new session on the next start (seed 003, "Company Managed UUID").
      client.close();
      this.client = null;
      this.connecting = null;
      this.opened = false;
      this.conversation = null;
      this.extrasSent = "";
      this.saveState({ threadId: undefined, engaged: false });
      if (this.isOpen()) this.start().catch((error) => this.fail(error));
      return;
    }
    this.storeExtras();
  }

  /** Sends the chat manager's context to agents: page trail on the thread, variables on the customer. */
  private shareContext(): void {
    const client = this.client;
    const conversation = this.conversation;
    const pages = this.agentContext?.pageViews;
    if (client && conversation && conversation.messages.length && pages && pages.length) {
      this.connect()
        .then(() => api.sendPageViews(client, conversation.threadId, pages))
        .catch((error) => console.error("Parley:", error));
    }
    this.storeExtras();
  }

  /** The page API's e-mail and extra values, and the chat manager's custom variables, reach the
   * customer as custom variables (StoreVisitor). */
  private storeExtras(): void {
    const identity = this.session.identity();
    const variables: Record<string, string> = {};
    for (const variable of this.agentContext?.customVariables || []) variables[variable.identifier] = variable.value;
    const values = { ...variables, ...identity.extra, ...(identity.email ? { email: identity.email } : {}) };
    const client = this.client;
    const sent = JSON.stringify(values);
    if (client && Object.keys(values).length && sent !== this.extrasSent) {
      this.extrasSent = sent;
      this.connect()
        .then(() => api.storeVisitor(client, values))
        .catch((error) => console.error("Parley:", error));
    }
  }

  // --- views ----------------------------------------------------------------------------

  /** The channel info: texts for the visitor's locale, colours, file limits, pre-chat form. */
  private loadSettings(): Promise<void> {
    const config = this.context.config;
    return (this.settingsLoaded ||= fetchChannelInfo(config.base, config.brandId, config.channelId).then(
      (settings) => {
        this.settings = settings;
        Object.assign(this.t, settings.translations);
        theme(this.host, settings.colors);
        this.title.textContent = this.t.title;
        this.input.placeholder = this.t.placeholder;
        this.updateBadge();
        this.attach.hidden = !settings.files.enabled;
        this.picker.accept = settings.files.types.join(",");
      },
      (error) => console.error("Parley:", error),
    ));
  }

  private async start(): Promise<void> {
    this.opened = true;
    const [client] = await Promise.all([this.connect(), this.loadSettings()]);
    this.storeExtras();
    const state = this.state;
    if (this.live) return this.startLive(client, state);
    if (this.context.config.multiThread && !state.threadId) return this.showThreadList();
    await this.showThread(state.threadId, !this.context.config.multiThread);
  }

  /** A live chat: the open session continues; otherwise a new one starts on the customer's
   * thread (a live-chat channel keeps one thread per customer, each chat a new contact). */
  private async startLive(client: VisitorClient, state: ChatState): Promise<void> {
    const previous = await api.recoverThread(client, state.threadId, true).catch(() => null);
    const threadId = previous ? String(previous.data.thread?.idOnExternalPlatform || state.threadId) : state.threadId;
    if (previous && previous.data.contact?.status !== "closed" && threadId) {
      if (await this.recover(threadId).catch(() => null)) return;
    }
    this.resetConversation(threadId || newEventId());
    if ((await client.availability()) === "offline") return this.showOffline(client);
    const fields = this.settings.preContactFields;
    this.body.replaceChildren();
    this.welcome();
    if (!fields.length) return this.showComposer(true);
    this.body.append(
      preChatForm(fields, this.t, (answer, first) => {
        this.pendingFields = answer;
        this.body.replaceChildren();
        this.welcome();
        this.showComposer(true);
        if (first) this.sendText(first);
      }),
    );
  }

  private welcome(): void {
    const text = this.proactiveWelcome || this.settings.welcome;
    if (text) this.notice(text);
  }

  private showComposer(visible: boolean): void {
    this.composer.hidden = !visible;
    if (visible) this.input.focus();
  }

  private showOffline(client: VisitorClient): void {
    this.title.textContent = this.t.weAreOffline;
    this.showComposer(false);
    this.body.replaceChildren(
      offlineForm(this.t, (form) => api.sendOfflineMessage(client, form).then(() => undefined)),
    );
  }

  private resetConversation(threadId: string): void {
    this.conversation = new Conversation(threadId);
    this.contactId = undefined;
    this.contactClosed = false;
    this.scrollToken = "";
    this.endButton.hidden = true;
    this.typingLine.replaceChildren();
  }

  async showThreadList(): Promise<void> {
    const client = await this.connect();
    this.conversation = null;
    this.saveState({ threadId: undefined });
    this.title.textContent = this.t.conversations;
    this.backButton.hidden = true;
    this.showComposer(false);
    const answer = await api.fetchThreadList(client);
    const list = el("ul", { class: "threads" });
    for (const thread of (answer.data.threads || []) as any[]) list.append(this.threadItem(client, thread));
    const create = el("button", { type: "button" }, this.t.newConversation);
    create.addEventListener("click", () => this.showThread(undefined, false));
    this.body.replaceChildren(create, list);
    create.focus();
  }

  private threadItem(client: VisitorClient, thread: any): HTMLElement {
    const id = String(thread.idOnExternalPlatform);
    const name = String(thread.threadName || "") || this.t.untitled;
    const archived = thread.canAddMoreMessages === false;
    const openButton = el("button", { type: "button" }, archived ? `${name} (${this.t.archived})` : name);
    openButton.addEventListener("click", () => this.showThread(id, false));
    const rename = el("button", { type: "button", class: "link", "aria-label": `${this.t.rename}: ${name}` }, this.t.rename);
    rename.addEventListener("click", () => {
      const field = el("input", { type: "text", "aria-label": this.t.renamePrompt, maxlength: "200" });
      field.value = name === this.t.untitled ? "" : name;
      const form = el("form", { class: "rename" }, field, el("button", { type: "submit" }, this.t.rename));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (!field.value.trim()) return;
        await api.renameThread(client, id, field.value.trim());
        this.showThreadList();
      });
      field.addEventListener("keydown", (event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          this.showThreadList();
        }
      });
      item.replaceChildren(form);
      field.focus();
    });
    const item = el("li", {}, openButton, rename);
    if (!archived) {
      const archive = el("button", { type: "button", class: "link", "aria-label": `${this.t.archive}: ${name}` }, this.t.archive);
      archive.addEventListener("click", async () => {
        await api.archiveThread(client, id);
        this.showThreadList();
      });
      item.append(archive);
    }
    return item;
  }

  /** Opens a thread: recovers it when known, or starts an empty one (created by its first message). */
  async showThread(threadId: string | undefined, idless: boolean): Promise<void> {
    this.backButton.hidden = !this.context.config.multiThread;
    this.title.textContent = this.t.title;
    this.body.replaceChildren();
    if (threadId || idless) {
      const recovered = await this.recover(threadId).catch(() => null);
      if (recovered) return;
    }
    this.resetConversation(threadId || newEventId());
    this.welcome();
    this.showComposer(true);
  }

  private async recover(threadId: string | undefined): Promise<boolean> {
    const client = await this.connect();
    const answer = await api.recoverThread(client, threadId, this.live);
    const data = answer.data;
    const id = String(data.thread?.idOnExternalPlatform || threadId);
    this.resetConversation(id);
    this.contactId = data.contact?.id != null ? String(data.contact.id) : undefined;
    this.contactClosed = data.contact?.status === "closed";
    this.scrollToken = String(data.messagesScrollToken || "");
    if (data.thread?.threadName) this.title.textContent = String(data.thread.threadName);
    this.saveState({ threadId: id });
    this.body.replaceChildren();
    this.olderButton();
    this.welcome();
    for (const message of [...(data.messages || [])].reverse()) this.conversation!.upsert(fromWire(message));
    this.renderMessages();
    if (this.live && data.inboxAssignee && !this.contactClosed) this.notice(format(this.t.agentJoined, { name: agentName(data.inboxAssignee, this.t) }));
    if (this.live && this.contactClosed) this.chatEnded();
    else {
      this.endButton.hidden = !this.live || !this.contactId;
      this.showComposer(data.thread?.canAddMoreMessages !== false);
    }
    this.markSeen();
    return true;
  }

  private olderButton(): void {
    if (!this.scrollToken) return;
    const button = el("button", { type: "button", class: "link" }, this.t.loadOlder);
    button.addEventListener("click", async () => {
      const conversation = this.conversation;
      const client = this.client;
      if (!conversation || !client) return;
      const oldest = conversation.messages[0];
      const answer = await api.loadMoreMessages(
        client,
        conversation.threadId,
        this.scrollToken,
        oldest ? oldest.createdAt : new Date().toISOString(),
        this.live ? this.contactId : undefined,
      );
      this.scrollToken = String(answer.data.scrollToken || "");
      for (const message of answer.data.messages || []) conversation.upsert(fromWire(message));
      button.remove();
      this.renderMessages();
    });
    this.body.prepend(button);
  }

  /** Re-renders the message rows (keeps notices in place, rows in order). */
  private renderMessages(): void {
    const conversation = this.conversation;
    if (!conversation) return;
    for (const message of conversation.messages) this.renderMessage(message);
  }

  private renderMessage(message: ChatMessage): void {
    const row = messageRow(message, (text, postback) => this.sendText(text, postback), this.t);
    const existing = Array.from(this.body.children).find(
      (child) => child.getAttribute("data-id") === message.clientId,
    );
    if (existing) return existing.replaceWith(row);
    const conversation = this.conversation!;
    const index = conversation.messages.indexOf(message);
    const next = conversation.messages
      .slice(index + 1)
      .map((later) => Array.from(this.body.children).find((child) => child.getAttribute("data-id") === later.clientId))
      .find(Boolean);
    if (next) next.before(row);
    else {
      this.body.append(row);
      this.scrollDown();
    }
  }

  // --- sending --------------------------------------------------------------------------

  private submitText(): void {
    const text = this.input.value.trim();
    if (!text) return;
    this.input.value = "";
    this.stopTyping();
    this.sendText(text);
  }

  private async sendText(text: string, postback?: string): Promise<void> {
    await this.send({ text, postback });
  }

  private async send(parts: { text?: string; postback?: string; attachments?: api.OutgoingMessage["attachments"] }) {
    const conversation = this.conversation;
    if (!conversation) return;
    const client = await this.connect();
    const first = conversation.messages.every((m) => m.direction !== "inbound");
    const messageId = newEventId();
    const pending: ChatMessage = {
      id: messageId,
      clientId: messageId,
      direction: "inbound",
      type: "TEXT",
      payload: {},
      text: parts.text || "",
      author: "",
      createdAt: new Date().toISOString(),
      attachments: (parts.attachments || []).map((a) => ({ url: "", name: a.friendlyName, mimeType: "", previewUrl: "" })),
      status: "sending",
    };
    conversation.upsert(pending);
    this.renderMessage(pending);
    const fields = first ? this.pendingFields : null;
    try {
      await api.sendMessage(client, {
        threadId: conversation.threadId,
        messageId,
        text: parts.text,
        postback: parts.postback,
        attachments: parts.attachments,
        customerFields: first && fields ? fields.customer : [],
        contactFields: first && fields ? fields.contact : [],
      });
      if (pending.status === "sending") pending.status = "sent";
      if (first) {
        this.pendingFields = null;
        this.saveState({ threadId: conversation.threadId, engaged: true });
        this.context.emit("chat:engaged", { threadId: conversation.threadId });
        this.shareContext();
      }
    } catch (error) {
      pending.status = "failed";
      console.error("Parley:", error);
    }
    this.renderMessage(pending);
  }

  private async sendFile(file: File, rules: FileRules): Promise<void> {
    const problem = fileProblem(file, rules, this.t);
    if (problem) {
      this.notice(problem, "alert");
      return;
    }
    const { upload } = await import("./upload");
    const config = this.context.config;
    try {
      const url = await upload(config.base, config.brandId, config.channelId, file);
      await this.send({ text: "", attachments: [{ url, friendlyName: file.name }] });
    } catch (error) {
      this.notice(error instanceof Error && error.message ? error.message : this.t.uploadFailed, "alert");
    }
  }

  private keystroke(): void {
    const conversation = this.conversation;
    if (!conversation || !this.client || !conversation.messages.length) return;
    if (!this.typingSent) {
      this.typingSent = true;
      api.typing(this.client, conversation.threadId, true);
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), 1000);
  }

  private stopTyping(): void {
    clearTimeout(this.typingTimer);
    if (this.typingSent && this.client && this.conversation) api.typing(this.client, this.conversation.threadId, false);
    this.typingSent = false;
  }

  private markSeen(): void {
    const conversation = this.conversation;
    if (!conversation || !this.client || !this.isOpen() || document.visibilityState === "hidden") return;
    if (conversation.lastOutbound()) api.markSeen(this.client, conversation.threadId).catch(() => undefined);
  }

  private async endChat(): Promise<void> {
    const conversation = this.conversation;
    if (!conversation || !this.client || !this.contactId) return;
    this.endButton.disabled = true;
    try {
      await api.endContact(this.client, conversation.threadId, this.contactId);
    } finally {
      this.endButton.disabled = false;
    }
  }

  private chatEnded(): void {
    this.contactClosed = true;
    this.endButton.hidden = true;
    this.showComposer(false);
    this.typingLine.replaceChildren();
    this.saveState({ engaged: false });
    this.notice(this.t.chatEnded);
    const again = el("button", { type: "button" }, this.t.newChat);
    again.addEventListener("click", () => {
      again.remove();
      this.connect().then((client) => this.startLive(client, this.state));
    });
    this.body.append(again);
    this.context.emit("chat:ended");
  }

  // --- incoming -------------------------------------------------------------------------

  private async resync(): Promise<void> {
    const conversation = this.conversation;
    if (!conversation || !conversation.messages.some((m) => m.status !== "sending")) return;
    await this.recover(conversation.threadId).catch(() => undefined);
  }

  private onFrame(frame: Frame): void {
    const conversation = this.conversation;
    const data = frame.data || {};
    const threadId = threadIdOf(data);
    const mine = conversation && threadId === conversation.threadId;
    switch (frame.type) {
      case "MessageCreated":
      case "MessageSent":
        return this.onMessage(data, !!mine);
      case "CaseCreated":
        if (mine) {
          this.contactId = String(data.case?.id ?? "");
          this.contactClosed = false;
          this.endButton.hidden = !this.live;
        }
        return;
      case "CaseStatusChanged":
        if (mine && data.case?.status === "closed" && this.live && !this.contactClosed) this.chatEnded();
        return;
      case "CaseInboxAssigneeChanged":
        if (!mine || !this.live) return;
        this.typingLine.replaceChildren();
        this.queueLine?.remove();
        if (data.inboxAssignee) this.notice(format(this.t.agentJoined, { name: agentName(data.inboxAssignee, this.t) }));
        else if (data.previousInboxAssignee)
          this.notice(format(this.t.agentLeft, { name: agentName(data.previousInboxAssignee, this.t) }));
        return;
      case "SetPositionInQueue":
        // The socket hears every thread of the customer (an offline message's too): only the one on screen counts.
        if (!mine && threadId) return;
        return this.onQueue(Number(data.positionInQueue));
      case "SenderTypingStarted":
      case "SenderTypingEnded":
        if (mine && data.direction === "outbound") {
          this.typingLine.textContent =
            frame.type === "SenderTypingStarted" ? format(this.t.agentTyping, { name: agentName(data.user, this.t) }) : "";
        }
        return;
      case "MessageReadChanged":
      case "MessageSeenByUser":
      case "MessageSeenChanged":
        return this.onReceipt(data, "seen", !!mine);
      case "MessageDeliveredToUser":
        return this.onReceipt(data, "delivered", !!mine);
      case "ThreadUpdated":
      case "ThreadArchived":
        if (!this.conversation && this.context.config.multiThread && this.isOpen()) this.showThreadList();
        return;
    }
  }

  private queueLine: HTMLElement | null = null;

  private onQueue(position: number): void {
    this.queueLine?.remove();
    this.queueLine = null;
    if (position > 0 && !this.contactClosed) this.queueLine = this.notice(format(this.t.queuePosition, { n: position }));
  }

  private onReceipt(data: any, status: "seen" | "delivered", mine: boolean): void {
    if (!mine || !this.conversation) return;
    const id = data.message?.idOnExternalPlatform || data.message?.id;
    this.conversation.mark(status, id ? String(id) : undefined);
    this.renderMessages();
  }

  private onMessage(data: any, mine: boolean): void {
    if (!data.message) return;
    const message = fromWire(data.message);
    if (message.direction === "outbound") {
      this.typingLine.replaceChildren();
      this.context.emit("chat:message", { direction: "outbound", text: message.text });
      if (!this.isOpen() || !mine) {
        this.unread += 1;
        this.updateBadge();
      }
    }
    if (!mine || !this.conversation) return;
    if (data.case?.id && !this.contactId) this.contactId = String(data.case.id);
    this.renderMessage(this.conversation.upsert(message));
    if (message.direction === "outbound") this.markSeen();
  }

  private syncFromOtherTab(state: ChatState | undefined): void {
    if (!state || this.embedded) return;
    if (state.open === false && this.isOpen()) {
      this.frame.hidden = true;
      this.showLauncher(true);
    }
  }
}
