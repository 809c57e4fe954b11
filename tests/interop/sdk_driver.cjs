// Drives the unmodified CXone Chat Web SDK 2.2.0 against Parley under Node 20.
// One process per simulated customer (the SDK keeps module-global state).
// Config: JSON in PARLEY_SDK_CONFIG. Talks to pytest with JSON lines:
//   stdout {"type": "step"|"need"|"done"|"fail", "name", "value"}; stdin {"type": "go", "name", "value"}.

// --- Polyfills (reference §13.1), installed before the SDK loads -------------
globalThis.self = globalThis;
globalThis.window = globalThis;
const spareTarget = new EventTarget();
globalThis.addEventListener = spareTarget.addEventListener.bind(spareTarget);
globalThis.removeEventListener = spareTarget.removeEventListener.bind(spareTarget);
globalThis.navigator = { language: 'en-US', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0', onLine: true };
globalThis.WebSocket = require('ws');
globalThis.ErrorEvent = class extends Event {
  constructor(type, init = {}) { super(type); this.message = init.message ?? String(type); this.error = init.error; }
};
globalThis.CloseEvent = class extends Event {
  constructor(type, init = {}) {
    super(type); this.code = init.code ?? 1000; this.reason = init.reason ?? ''; this.wasClean = init.wasClean ?? true;
  }
};
globalThis.FileReader = class {
  readAsDataURL(blob) {
    blob.arrayBuffer().then((buffer) => {
      this.error = null;
      this.result = `data:${blob.type || 'application/octet-stream'};base64,${Buffer.from(buffer).toString('base64')}`;
      this.onloadend?.({ target: this });
    });
  }
};

const sdkModule = require('@nice-devone/nice-cxone-chat-web-sdk');
const { ChatSdk } = sdkModule;
const config = JSON.parse(process.env.PARLEY_SDK_CONFIG);

const emit = (type, name, value) => process.stdout.write(`${JSON.stringify({ type, name, value: value ?? null })}\n`);
const step = (name, value) => emit('step', name, value);
const errors = [];
process.on('unhandledRejection', (error) => errors.push(String(error && error.message)));

// --- Lines from pytest ----------------------------------------------------------
const pendingGo = [];
const goWaiters = [];
let stdinBuffer = '';
process.stdin.on('data', (chunk) => {
  stdinBuffer += chunk;
  let index;
  while ((index = stdinBuffer.indexOf('\n')) >= 0) {
    const line = stdinBuffer.slice(0, index);
    stdinBuffer = stdinBuffer.slice(index + 1);
    const message = JSON.parse(line);
    const waiter = goWaiters.shift();
    if (waiter) waiter(message); else pendingGo.push(message);
  }
});
function need(name, value) {
  emit('need', name, value);
  const queued = pendingGo.shift();
  if (queued) return Promise.resolve(queued.value);
  return new Promise((resolve) => goWaiters.push((message) => resolve(message.value)));
}

// --- SDK events, buffered so a wait never misses one ----------------------------
const seen = [];
const EVENT_TYPES = [
  'MessageCreated', 'ContactCreated', 'ContactStatusChanged', 'AssignedAgentChanged', 'SetPositionInQueue',
  'AgentTypingStarted', 'AgentTypingEnded', 'MessageReadChanged', 'MessageSeenByUser', 'ThreadArchived',
  'ThreadUpdated', 'MessageDeliveredToUser',
];
function listen(sdk) {
  for (const type of EVENT_TYPES) sdk.onChatEvent(type, (event) => seen.push({ type, detail: event.detail }));
}
async function waitEvent(type, predicate = () => true, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const index = seen.findIndex((item) => item.type === type && predicate(item.detail));
    if (index >= 0) return seen.splice(index, 1)[0].detail;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${type}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
const withTimeout = (promise, ms, what) => Promise.race([
  promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
]);
const textOf = (message) => message.messageContent.payload.text;

function makeSdk(overrides = {}) {
  const options = {
    brandId: config.brandId,
    channelId: config.channelId,
    customerId: config.customerId,
    customerName: config.customerName,
    securedSession: config.securedSession ?? undefined,
    isLivechat: Boolean(config.isLivechat),
    isAuthorizationEnabled: Boolean(config.isAuthorizationEnabled),
    environment: 'custom',
    cacheStorage: config.cache ? memoryCache() : null,
    language: 'en-US',
    onError: (error) => errors.push(String(error && error.message)),
    customEnvironment: { chat: config.chat, authorize: config.chat, gateway: config.gateway, name: 'parley' },
    ...overrides,
  };
  for (const key of Object.keys(options)) if (options[key] === undefined) delete options[key];
  const sdk = new ChatSdk(options);
  listen(sdk);
  return sdk;
}
function memoryCache() {
  const store = new Map();
  return {
    getItem: (key) => store.get(key) ?? null,
    setItem: (key, value) => store.set(key, value),
    removeItem: (key) => store.delete(key),
  };
}
async function connected(sdk, code) {
  await withTimeout(sdk.connect(code), 8000, 'connect');
  await withTimeout(sdk.ready ? sdk.ready() : Promise.resolve(), 8000, 'ready');
}

// --- Scenarios --------------------------------------------------------------------
const scenarios = {
  async channelInfo() {
    const sdk = makeSdk();
    const info = await sdk.getChannelInfo();
    step('channelInfo', { isLiveChat: info.isLiveChat, multi: info.settings.hasMultipleThreadsPerEndUser,
      fileSize: info.settings.fileRestrictions.allowedFileSize });
    step('availability', await sdk.getChannelAvailability());
  },

  async messaging() {
    const sdk = makeSdk();
    await connected(sdk, config.authorizationCode);
    const thread = sdk.getThread(config.threadId);
    await thread.setCustomField('order_number', '42');
    sdk.getCustomer().setCustomField('email', 'vera@example.com');
    const sent = await withTimeout(thread.sendTextMessage('hello from the SDK'), 8000, 'send');
    step('sent', { id: sent.id });
    const contact = await waitEvent('ContactCreated');
    step('contact', { status: contact.data.case.status, thread: contact.data.case.threadIdOnExternalPlatform });
    const own = await waitEvent('MessageCreated', (d) => d.data.message.direction === 'inbound');
    step('ownMessage', { text: textOf(own.data.message), id: own.data.message.idOnExternalPlatform });
    await withTimeout(thread.setCustomField('topic', 'order'), 8000, 'contact field');
    await withTimeout(sdk.getCustomer().setCustomField('customer_since', '2020-01-31'), 8000, 'customer field');
    thread.keystroke(200);
    await new Promise((resolve) => setTimeout(resolve, 600));
    step('typed', true);
    await need('agentTyping');
    const typing = await waitEvent('AgentTypingStarted');
    step('agentTyping', { thread: typing.data.thread.idOnExternalPlatform, direction: typing.data.direction });
    await need('agentReply', { thread: config.threadId });
    const reply = await waitEvent('MessageCreated', (d) => d.data.message.direction === 'outbound');
    step('agentReply', { text: textOf(reply.data.message), author: reply.data.message.authorUser.firstName });
    await withTimeout(thread.lastMessageSeen(), 8000, 'seen');
    step('seen', true);
    await need('agentRead');
    const read = await waitEvent('MessageReadChanged');
    step('agentRead', { message: read.data.message.idOnExternalPlatform });
  },

  async recover() {
    const sdk = makeSdk();
    await connected(sdk, config.authorizationCode);
    const thread = sdk.getThread(config.threadId);
    const recovered = await withTimeout(thread.recover(), 8000, 'recover');
    step('recovered', { texts: recovered.messages.map(textOf), contact: recovered.contact.id,
      fields: recovered.contact.customFields });
    await withTimeout(thread.sendTextMessage('back again'), 8000, 'send after recover');
    step('sentAgain', true);
  },

  async sendOnly() {
    const sdk = makeSdk();
    await connected(sdk, config.authorizationCode);
    if (config.legacyAuthorize) {
      const authorized = await withTimeout(sdk.authorize(config.authorizationCode), 8000, 'authorize');
      step('authorized', { id: authorized.consumerIdentity.idOnExternalPlatform });
    }
    const thread = sdk.getThread(config.threadId);
    await withTimeout(thread.sendTextMessage(config.text || 'hello'), 8000, 'send');
    const own = await waitEvent('MessageCreated', (d) => d.data.message.direction === 'inbound');
    step('sent', { customer: sdk.getCustomer().getId(), text: textOf(own.data.message) });
  },

  async reconnect() {
    const sdk = makeSdk();
    await connected(sdk);
    const thread = sdk.getThread(config.threadId);
    await withTimeout(thread.sendTextMessage('before the restart'), 8000, 'send');
    let opens = 0;
    sdk.getWebsocketClient().on('open', () => { opens += 1; });
    await need('restartServer');
    const deadline = Date.now() + 15000;
    while (opens === 0) {
      if (Date.now() > deadline) throw new Error('the SDK did not reconnect');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const recovered = await withTimeout(thread.recover(), 8000, 'recover after reconnect');
    step('recovered', { texts: recovered.messages.map(textOf) });
    await withTimeout(thread.sendTextMessage('after the restart'), 8000, 'send after reconnect');
    await need('agentReply', { thread: config.threadId });
    const reply = await waitEvent('MessageCreated', (d) => d.data.message.direction === 'outbound'
      && textOf(d.data.message) === 'live again');
    step('live', { text: textOf(reply.data.message) });
  },

  async exchange() {
    const sdk = makeSdk();
    await connected(sdk);
    const thread = sdk.getThread(config.threadId);
    await withTimeout(thread.sendTextMessage('hello daphne'), 8000, 'send');
    const own = await waitEvent('MessageCreated', (d) => d.data.message.direction === 'inbound');
    step('sent', { text: textOf(own.data.message) });
    await need('agentReply', { thread: config.threadId });
    const reply = await waitEvent('MessageCreated', (d) => d.data.message.direction === 'outbound');
    step('agentReply', { text: textOf(reply.data.message) });
  },

  async multiThread() {
    const sdk = makeSdk();
    await connected(sdk);
    const first = sdk.getThread('mt-first');
    const second = sdk.getThread('mt-second');
    await withTimeout(first.sendTextMessage('first topic'), 8000, 'send first');
    await withTimeout(second.sendTextMessage('second topic'), 8000, 'send second');
    await withTimeout(first.setName('Renamed topic'), 8000, 'rename');
    await withTimeout(second.archive(), 8000, 'archive');
    const threads = await withTimeout(sdk.getThreadList(), 8000, 'list');
    step('threads', threads.map((t) => ({ id: t.idOnExternalPlatform, name: t.threadName, open: t.canAddMoreMessages }))
      .sort((a, b) => a.id.localeCompare(b.id)));
    const metadata = await withTimeout(first.getMetadata(), 8000, 'metadata');
    step('metadata', { last: textOf(metadata.data.lastMessage) });
  },

  async paging() {
    const sdk = makeSdk();
    await connected(sdk);
    const thread = sdk.getThread(config.threadId);
    const recovered = await withTimeout(thread.recover(), 8000, 'recover');
    const texts = recovered.messages.map(textOf);
    const pages = [texts.length];
    for (let page = 0; page < 20; page += 1) {
      const more = await withTimeout(thread.loadMoreMessages(), 8000, 'load more');
      if (more === null) break;
      const batch = more.data.messages.map(textOf);
      pages.push(batch.length);
      texts.push(...batch);
    }
    step('paged', { pages, texts });
  },

  async livechat() {
    const sdk = makeSdk();
    await connected(sdk);
    const thread = sdk.getThread(config.threadId);
    await withTimeout(thread.startChat('I need help'), 8000, 'startChat');
    const contact = await waitEvent('ContactCreated');
    const position = await waitEvent('SetPositionInQueue');
    step('queued', { position: position.data.positionInQueue, contact: contact.data.case.id });
    await need('agentJoins');
    const assigned = await waitEvent('AssignedAgentChanged');
    step('assigned', { agent: assigned.data.inboxAssignee.firstName });
    await need('agentReply', { thread: config.threadId });
    const reply = await waitEvent('MessageCreated', (d) => d.data.message.direction === 'outbound');
    step('agentReply', { text: textOf(reply.data.message) });
    await withTimeout(thread.endChat(), 8000, 'endChat');
    const closed = await waitEvent('ContactStatusChanged');
    step('ended', { status: closed.data.case.status });
  },

  async offline() {
    const sdk = makeSdk();
    await connected(sdk);
    const availability = await sdk.getChannelAvailability();
    await withTimeout(sdk.sendOfflineMessage({ name: 'Vera Visitor', email: 'vera@example.com', message: 'Call me' }),
      8000, 'offline');
    step('offline', { availability: availability.status });
  },

  async attachment() {
    const sdk = makeSdk();
    await connected(sdk);
    const thread = sdk.getThread(config.threadId);
    await withTimeout(thread.sendTextMessage('see attached'), 8000, 'send');
    const file = new File([Buffer.from('hello attachment')], 'note.txt', { type: 'text/plain' });
    await withTimeout(thread.sendAttachments([file]), 8000, 'attachments');
    const message = await waitEvent('MessageCreated', (d) => d.data.message.attachments.length > 0);
    const attachment = message.data.message.attachments[0];
    step('attached', { name: attachment.friendlyName, mimeType: attachment.mimeType });
    const tooBig = new File([Buffer.alloc(1024 * 1024 + 10)], 'big.txt', { type: 'text/plain' });
    try {
      await withTimeout(thread.sendAttachments([tooBig]), 8000, 'refused attachment');
      step('refused', null);
    } catch (error) {
      const data = error.data ?? (error.additionalInfo ?? null);
      step('refused', { name: error.name, message: error.message, data });
    }
  },

  async largeEvent() {
    const sdk = makeSdk();
    await connected(sdk);
    const thread = sdk.getThread(config.threadId);
    const recovered = await withTimeout(thread.recover(), 8000, 'recover large');
    step('recovered', { count: recovered.messages.length, lengths: recovered.messages.map((m) => textOf(m).length) });
  },
};

(async () => {
  try {
    await scenarios[config.scenario]();
    emit('done', config.scenario, { errors });
  } catch (error) {
    emit('fail', config.scenario, { error: String(error && error.stack), errors });
  }
  setTimeout(() => process.exit(0), 50);
})();
