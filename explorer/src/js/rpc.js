// A JSON-RPC 2.0 client over one WebSocket to the node: requests, and eth_subscribe
// notifications. It reconnects by itself (with backoff) and subscribes again, so a node
// restarted under a dev's feet comes back in the page without a reload.

/** The node's WebSocket URL: this page's origin, or the RPC port the node told the page
 *  (the explorer served on --explorer-port), or ?rpc=ws://... for another node. */
export function endpoint(location = window.location, document_ = document) {
  const asked = new URLSearchParams(location.search).get("rpc");
  if (asked) return asked;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const port = document_.querySelector('meta[name="supervm-rpc-port"]')?.content;
  if (port) return `${scheme}//${location.hostname}:${port}/`;
  return `${scheme}//${location.host}/`;
}

/** An error the node answered with (code, message, data as JSON-RPC gives them). */
export class RpcError extends Error {
  constructor(error) {
    super(error.message);
    this.code = error.code;
    this.data = error.data;
  }
}

export class Rpc {
  /** @param {string} url the node's ws:// URL. @param {(state: string) => void} onState */
  constructor(url, onState = () => {}) {
    this.url = url;
    this.onState = onState;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, message}
    this.queue = []; // messages waiting for the socket to open
    this.subscriptions = new Map(); // our key -> {kind, params, handler, serverId}
    this.byServerId = new Map();
    this.retry = 250;
    this.state = "connecting";
    this.connect();
  }

  connect() {
    const ws = (this.ws = new WebSocket(this.url));
    this.setState("connecting");
    ws.onopen = () => {
      this.retry = 250;
      this.setState("connected");
      for (const message of this.queue.splice(0)) ws.send(message);
      for (const [key, sub] of this.subscriptions) this.resubscribe(key, sub);
    };
    ws.onmessage = (event) => this.receive(JSON.parse(event.data));
    ws.onclose = () => {
      this.setState("disconnected");
      // Requests in flight are lost with the connection: send every unanswered one again once
      // reconnected (queued ones are among them).
      this.queue = [...this.pending.values()].map((entry) => entry.message);
      for (const sub of this.subscriptions.values()) sub.serverId = null;
      this.byServerId.clear();
      setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 5000);
    };
  }

  setState(state) {
    this.state = state;
    this.onState(state);
  }

  send(message) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(message);
    else this.queue.push(message);
  }

  receive(message) {
    if (message.method === "eth_subscription") {
      const key = this.byServerId.get(message.params.subscription);
      const sub = key !== undefined ? this.subscriptions.get(key) : undefined;
      if (sub) sub.handler(message.params.result);
      return;
    }
    for (const answer of Array.isArray(message) ? message : [message]) {
      const entry = this.pending.get(answer.id);
      if (!entry) continue;
      this.pending.delete(answer.id);
      if (answer.error) entry.reject(new RpcError(answer.error));
      else entry.resolve(answer.result);
    }
  }

  /** Call `method` with positional `params`; resolves with the result. */
  call(method, ...params) {
    const id = this.nextId++;
    const message = JSON.stringify({ jsonrpc: "2.0", id, method, params });
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, message });
      this.send(message);
    });
  }

  /** eth_subscribe(kind, ...params), calling `handler` with each notification's result.
   *  Returns a function that unsubscribes. */
  subscribe(kind, params, handler) {
    const key = this.nextId++;
    const sub = { kind, params, handler, serverId: null };
    this.subscriptions.set(key, sub);
    if (this.ws.readyState === WebSocket.OPEN) this.resubscribe(key, sub);
    return () => {
      this.subscriptions.delete(key);
      if (sub.serverId) {
        this.byServerId.delete(sub.serverId);
        this.call("eth_unsubscribe", sub.serverId).catch(() => {});
      }
    };
  }

  resubscribe(key, sub) {
    this.call("eth_subscribe", sub.kind, ...sub.params).then(
      (serverId) => {
        if (!this.subscriptions.has(key) || sub.serverId) {
          // Unsubscribed meanwhile, or subscribed twice across a reconnect: drop this one.
          this.call("eth_unsubscribe", serverId).catch(() => {});
          return;
        }
        sub.serverId = serverId;
        this.byServerId.set(serverId, key);
      },
      (error) => console.error(`eth_subscribe ${sub.kind}:`, error),
    );
  }
}
