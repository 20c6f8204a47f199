// Shared by the gateway's pages (/app and /app/instructor); the gateway puts it into each page.
// Helpers, GraphQL over fetch as the signed-in user, and a graphql-ws client (protocol
// graphql-transport-ws) that reconnects by itself and resumes each subscription from the last
// event it delivered, so the page misses nothing and reads nothing again.
const $ = (s) => document.querySelector(s);
const fmt = new Intl.NumberFormat('ko-KR');
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const badge = (v) => `<span class="badge ${esc(v || 'none')}">${esc(v || '—')}</span>`;
const session = { token: '' };

function toast(msg) {
  const t = $('#toast');
  t.textContent = msg;
  t.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove('show'), 4000);
}
function log(line) {
  const l = $('#log');
  if (l) l.textContent = `${new Date().toLocaleTimeString()}  ${line}\n` + l.textContent;
}

/** Runs an operation as the signed-in user; throws an Error with `code` (extensions.code) and `field`. */
async function gql(query, variables = {}) {
  const res = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(session.token ? { authorization: `Bearer ${session.token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors?.length) {
    const e = body.errors[0];
    const err = new Error(e.message);
    err.code = e.extensions?.code;
    err.field = e.extensions?.field;
    throw err;
  }
  return body.data;
}

/** A demo token from the gateway (DEV_TOKENS on), or undefined when it hands out none. */
async function demoToken(role, sub) {
  const res = await fetch(`/dev/token?role=${role}&sub=${encodeURIComponent(sub)}`);
  return res.ok ? (await res.json()).token : undefined;
}

/**
 * The live connection. `subscriptions()` lists what to subscribe to on each (re)connection:
 * `{ id, query, variables, onData(data) }`. Each delivery's position (`extensions.eventId`) is
 * kept per subscription, and a reconnection subscribes again with it (`extensions.lastEventId`):
 * the gateway first sends what was missed, in order. `onGap()` runs when that cannot be: a
 * subscription that had no position yet, or whose position the gateway no longer replays
 * (RESUME_EXPIRED); the page then reads again. A dropped socket comes back by itself after
 * 0.5 s, 1 s, 2 s … up to 10 s, with jitter; a refused token does not, and an expired one (4401)
 * calls `onExpired()`, where the page can sign in again.
 */
function live({ subscriptions, onGap, onExpired }) {
  const st = { ws: null, retries: 0, everConnected: false, handlers: new Map(), positions: new Map() };
  const status = (cls, text) => {
    $('#conn').className = cls;
    $('#conn').textContent = text;
  };
  const send = (ws, msg) => ws.send(JSON.stringify(msg));
  function connect() {
    st.ws?.close(1000);
    st.ws = null;
    if (!session.token) return status('down', 'signed out');
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`, 'graphql-transport-ws');
    st.ws = ws;
    ws.onopen = () => send(ws, { type: 'connection_init', payload: { authorization: `Bearer ${session.token}` } });
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === 'connection_ack') {
        status('live', 'live');
        st.handlers.clear();
        const reconnected = st.everConnected;
        let gap = false;
        for (const s of subscriptions()) {
          if (reconnected && !st.positions.has(s.id)) gap = true;
          start(ws, s);
        }
        st.everConnected = true;
        st.retries = 0;
        if (reconnected) log(gap ? 'reconnected: reading again what may have changed' : 'reconnected: resuming from the last update');
        if (gap) onGap?.();
      } else if (msg.type === 'ping') send(ws, { type: 'pong' });
      else if (msg.type === 'next' && msg.payload.data) {
        if (msg.payload.extensions?.eventId) st.positions.set(msg.id, msg.payload.extensions.eventId);
        st.handlers.get(msg.id)?.(msg.payload.data);
      } else if (msg.type === 'next' && msg.payload.errors?.[0]?.extensions?.code === 'RESUME_EXPIRED') {
        // Too far behind to replay: start afresh, and read again.
        log('missed too much to replay: reading again');
        st.positions.delete(msg.id);
        const s = subscriptions().find((x) => x.id === msg.id);
        st.handlers.delete(msg.id);
        if (s) setTimeout(() => st.ws === ws && start(ws, s), 0);
        onGap?.();
      } else if (msg.type === 'error' || (msg.type === 'next' && msg.payload.errors)) log(`error: ${JSON.stringify(msg.payload)}`);
    };
    ws.onclose = (e) => {
      if (st.ws !== ws) return;
      status('down', e.code === 4401 ? 'token expired' : e.code === 4403 ? 'token refused' : 'offline, reconnecting');
      // An expired token (4401): the page may sign in again (a demo user gets a fresh token).
      if (e.code === 4401) return onExpired?.();
      if (e.code === 4403 || e.code === 1000) return;
      const wait = Math.min(10_000, 500 * 2 ** st.retries++) * (0.75 + Math.random() / 2);
      setTimeout(() => {
        if (st.ws === ws) connect();
      }, wait);
    };
  }
  /** Subscribes to `s` on `ws`, from its last position when it has one. */
  function start(ws, s) {
    st.handlers.set(s.id, s.onData);
    const lastEventId = st.positions.get(s.id);
    const payload = { query: s.query, variables: s.variables ?? {}, ...(lastEventId ? { extensions: { lastEventId } } : {}) };
    send(ws, { id: s.id, type: 'subscribe', payload });
  }
  /** Adds a subscription to the open connection (it is also made again on each reconnection). */
  function subscribe(s) {
    if (st.ws?.readyState !== WebSocket.OPEN || st.handlers.has(s.id)) return;
    start(st.ws, s);
  }
  return {
    connect,
    subscribe,
    restart() {
      st.everConnected = false;
      st.retries = 0;
      st.positions.clear(); // another user: nothing to resume
      connect();
    },
  };
}
