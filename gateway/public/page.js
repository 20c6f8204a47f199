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

/**
 * An operation of OPERATIONS as a request's fields: a trusted document by its hash (`{ hash }`,
 * what the gateway puts in when it holds the manifest), else its text.
 */
function operationFields(op, extensions) {
  if (typeof op === 'string') return { query: op, ...(extensions ? { extensions } : {}) };
  // graphql-ws asks for a query string: an empty one, with the hash naming the document.
  return { query: '', extensions: { ...extensions, persistedQuery: { version: 1, sha256Hash: op.hash } } };
}

/** Runs an operation as the signed-in user; throws an Error with `code` (extensions.code) and `field`. */
async function gql(op, variables = {}) {
  const { query, extensions } = operationFields(op);
  const res = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(session.token ? { authorization: `Bearer ${session.token}` } : {}) },
    body: JSON.stringify(query ? { query, variables } : { variables, extensions }),
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

/**
 * Sign-in with the issuer the gateway trusts (GET /app/sign-in.json): OpenID Connect
 * Authorization Code + PKCE through oauth4webapi (served by the gateway), a public client with no
 * secret. The tokens stay in this tab (sessionStorage). The access token is renewed with the
 * refresh token before it expires (at three quarters of its life); signing out ends the session
 * at the issuer too.
 *
 * `onToken(token, name, renewed)` gets each access token ('' when signed out); `renewed` is true
 * for a renewal of the same person's. `?user=<sub>` in the page's address starts signing in with
 * that person suggested (`login_hint`).
 */
function signInWithIssuer({ onToken }) {
  const KEY = `sign-in:${location.pathname}`;
  const redirectUri = location.origin + location.pathname;
  let cfg, as, client, oauth, timer, tokens;
  const options = () => ({ [oauth.allowInsecureRequests]: new URL(cfg.issuer).protocol === 'http:' });
  async function setup() {
    cfg ??= await (await fetch('/app/sign-in.json')).json();
    if (!cfg.issuer) return false;
    oauth ??= await import('/app/oauth4webapi.js');
    if (!as) {
      const issuer = new URL(cfg.issuer);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, options()));
      client = { client_id: cfg.clientId };
    }
    return true;
  }
  function show() {
    $('#who').textContent = tokens ? `signed in as ${tokens.name}` : 'signed out';
    $('#sign-in').hidden = !!tokens;
    $('#sign-out').hidden = !tokens;
  }
  async function use(response, renewed) {
    const claims = oauth.getValidatedIdTokenClaims(response);
    tokens = {
      access: response.access_token,
      refresh: response.refresh_token ?? tokens?.refresh,
      idToken: response.id_token ?? tokens?.idToken,
      expiresAt: Date.now() + (response.expires_in ?? 300) * 1000,
      name: claims ? `${claims.name ?? claims.sub} (${claims.sub})` : tokens?.name,
    };
    sessionStorage.setItem(KEY, JSON.stringify(tokens));
    schedule();
    show();
    await onToken(tokens.access, tokens.name, renewed);
  }
  function schedule() {
    clearTimeout(timer);
    const left = tokens.expiresAt - Date.now();
    timer = setTimeout(renew, Math.max(1_000, left * 0.75));
  }
  async function renew() {
    try {
      if (!tokens?.refresh) throw new Error('no refresh token');
      const response = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh, options());
      await use(await oauth.processRefreshTokenResponse(as, client, response), true);
      log('signed in again: the token was renewed before it expired');
    } catch (err) {
      log(`could not renew the token (${err.message}): sign in again`);
      tokens = undefined;
      sessionStorage.removeItem(KEY);
      show();
      await onToken('', '', false);
    }
  }
  async function signIn(hint) {
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    sessionStorage.setItem(`${KEY}:pkce`, JSON.stringify({ verifier, state }));
    const url = new URL(as.authorization_endpoint);
    const params = {
      client_id: client.client_id,
      redirect_uri: redirectUri,
      response_type: 'code',
      // offline_access: a refresh token, to renew without a new sign-in (the issuer asks consent for it).
      scope: cfg.scope ?? 'openid profile offline_access api',
      prompt: 'consent',
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...(cfg.audience ? { resource: cfg.audience } : {}),
      ...(hint ? { login_hint: hint } : {}),
    };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    location.assign(url);
  }
  async function complete() {
    const { verifier, state } = JSON.parse(sessionStorage.getItem(`${KEY}:pkce`) ?? '{}');
    sessionStorage.removeItem(`${KEY}:pkce`);
    const params = oauth.validateAuthResponse(as, client, new URL(location.href), state);
    history.replaceState(null, '', location.pathname);
    const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, verifier, options());
    await use(await oauth.processAuthorizationCodeResponse(as, client, response), false);
  }
  $('#sign-in').addEventListener('click', () => signIn(new URLSearchParams(location.search).get('user') ?? undefined));
  $('#sign-out').addEventListener('click', async () => {
    const idToken = tokens?.idToken;
    clearTimeout(timer);
    tokens = undefined;
    sessionStorage.removeItem(KEY);
    show();
    await onToken('', '', false);
    if (as?.end_session_endpoint && idToken) {
      const url = new URL(as.end_session_endpoint);
      for (const [k, v] of Object.entries({ id_token_hint: idToken, client_id: client.client_id, post_logout_redirect_uri: redirectUri }))
        url.searchParams.set(k, v);
      location.assign(url);
    }
  });
  return {
    /** Signs in from the address (an issuer's answer), from this tab's tokens, or with `?user=`. @returns false when the gateway trusts no issuer. */
    async start() {
      if (!(await setup())) {
        $('#who').textContent = 'sign-in unavailable: the gateway trusts no identity provider';
        $('#sign-in').hidden = $('#sign-out').hidden = true;
        return false;
      }
      const here = new URLSearchParams(location.search);
      try {
        if (here.has('code') || here.has('error')) return void (await complete());
      } catch (err) {
        toast(`sign-in failed: ${err.message}`);
      }
      const kept = JSON.parse(sessionStorage.getItem(KEY) ?? 'null');
      if (kept && kept.expiresAt > Date.now() + 5_000) {
        tokens = kept;
        schedule();
        show();
        return void (await onToken(tokens.access, tokens.name, false));
      }
      if (kept?.refresh) return void ((tokens = kept), await renew());
      show();
      if (here.get('user')) await signIn(here.get('user'));
      return true;
    },
  };
}

/**
 * The live connection. `subscriptions()` lists what to subscribe to on each (re)connection:
 * `{ id, query, variables, onData(data) }`. Each delivery's position (`extensions.eventId`) is
 * kept per subscription, and a reconnection subscribes again with it (`extensions.lastEventId`):
 * the gateway first sends what was missed, in order. `onGap()` runs when that cannot be: a
 * subscription that had no position yet, or whose position the gateway no longer replays
 * (RESUME_EXPIRED); the page then reads again. A dropped socket comes back by itself after
 * 0.5 s, 1 s, 2 s … up to 10 s, with jitter; a refused token does not, and an expired one (4401)
 * calls `onExpired()`, where the page can sign in again. `renew()` reconnects with a renewed
 * token of the same person and resumes every subscription; `restart()` starts afresh (another
 * person: nothing to resume).
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
    const payload = { ...operationFields(s.query, lastEventId ? { lastEventId } : undefined), variables: s.variables ?? {} };
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
    renew() {
      st.retries = 0;
      connect();
    },
    restart() {
      st.everConnected = false;
      st.retries = 0;
      st.positions.clear(); // another user: nothing to resume
      connect();
    },
  };
}
