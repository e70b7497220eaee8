// The mcp-oauth console: a public OAuth client of this server (authorization code + PKCE S256
// through WebCrypto). Tokens live in this tab's memory only (never localStorage); the PKCE
// verifier and state of a sign-in in progress wait in sessionStorage for the redirect back.
// Every text from the server goes into the page through textContent, never as HTML.
'use strict';

const ISSUER = location.origin + location.pathname.replace(/\/console\/.*$/, '');
const CLIENT_ID = 'mcp-oauth-console';
const REDIRECT = ISSUER + '/console/';
const API = ISSUER + '/console/api';
const CONSOLE_RESOURCE = API;
const tokens = new Map(); // resource -> { access, refresh }
const $ = (id) => document.getElementById(id);
const VIEWS = ['authorizations', 'keys', 'playground', 'admin'];

function b64url(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString() {
  return b64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function challengeOf(verifier) {
  return b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
}

function status(text) {
  $('status').textContent = text || '';
}

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children) e.append(c);
  return e;
}

// ------------------------------------------------------------------ OAuth

async function authorizeUrl(resource, scope) {
  const verifier = randomString();
  const state = randomString();
  sessionStorage.setItem('pkce:' + state, JSON.stringify({ verifier, resource }));
  const u = new URL(ISSUER + '/authorize');
  u.search = new URLSearchParams({
    response_type: 'code', client_id: CLIENT_ID, redirect_uri: REDIRECT, scope, state,
    resource, code_challenge: await challengeOf(verifier), code_challenge_method: 'S256',
  }).toString();
  return u.toString();
}

async function tokenRequest(params) {
  const r = await fetch(ISSUER + '/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error_description || body.error || ('token endpoint: ' + r.status));
  return body;
}

// Redeems `code` of the sign-in `state`; returns the resource it was for.
async function redeem(code, state, iss) {
  const pending = JSON.parse(sessionStorage.getItem('pkce:' + state) || 'null');
  sessionStorage.removeItem('pkce:' + state);
  if (!pending) throw new Error('unknown or replayed sign-in response');
  if (iss && iss !== ISSUER) throw new Error('the response came from another issuer');
  const t = await tokenRequest({
    grant_type: 'authorization_code', client_id: CLIENT_ID, code, redirect_uri: REDIRECT,
    code_verifier: pending.verifier, resource: pending.resource,
  });
  tokens.set(pending.resource, { access: t.access_token, refresh: t.refresh_token });
  return pending.resource;
}

// Rotates the refresh token of `resource`; false if it cannot.
async function refresh(resource) {
  const t = tokens.get(resource);
  if (!t || !t.refresh) return false;
  try {
    const n = await tokenRequest({ grant_type: 'refresh_token', client_id: CLIENT_ID, refresh_token: t.refresh });
    tokens.set(resource, { access: n.access_token, refresh: n.refresh_token || t.refresh });
    return true;
  } catch (e) {
    tokens.delete(resource);
    return false;
  }
}

// A fetch with the token of `resource`; on 401 the refresh token rotates and the call is retried once.
async function authed(resource, url, init) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const t = tokens.get(resource);
    if (!t) break;
    const headers = Object.assign({}, (init && init.headers) || {}, { authorization: 'Bearer ' + t.access });
    const r = await fetch(url, Object.assign({}, init, { headers }));
    if (r.status !== 401 || attempt === 1 || !(await refresh(resource))) return r;
  }
  throw new Error('signed out');
}

async function api(path, init) {
  let r;
  try {
    r = await authed(CONSOLE_RESOURCE, API + path, init);
  } catch (e) {
    showSignIn('Your session ended. Sign in again.');
    throw e;
  }
  const body = await r.json().catch(() => null);
  if (r.status === 401) {
    tokens.delete(CONSOLE_RESOURCE);
    showSignIn('Your session ended. Sign in again.');
  }
  if (!r.ok) throw new Error((body && (body.error_description || body.error)) || ('HTTP ' + r.status));
  return body;
}

// Each list renders the answer of its latest load only. Two loads of one list can be in flight at
// once (a withdrawal's reload while the view's own load is still out), and their answers can come
// back out of order: an older answer must never replace a newer one. `null` means "a later load
// renders".
const loads = {};
async function newest(list, request) {
  const mine = (loads[list] = (loads[list] || 0) + 1);
  const answer = await request;
  return mine === loads[list] ? answer : null;
}

// ------------------------------------------------------------------ views

function showSignIn(message) {
  for (const s of VIEWS) $(s).hidden = true;
  $('nav').hidden = true;
  $('signin').hidden = false;
  status(message);
}

function show(view) {
  $('signin').hidden = true;
  $('nav').hidden = false;
  for (const s of VIEWS) $(s).hidden = s !== view;
  for (const b of document.querySelectorAll('nav button[data-view]')) {
    if (b.dataset.view === view) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
  }
  const heading = $(view).querySelector('h2');
  if (heading) heading.focus();
  const load = { authorizations: () => Promise.all([loadAuthorizations(), loadSessions()]), keys: loadKeys, playground: async () => {}, admin: () => window.consoleAdmin.load() }[view];
  load().catch((e) => status(e.message));
}

function when(t) {
  return t ? new Date(t * 1000).toLocaleString() : 'never';
}

async function loadAuthorizations() {
  const list = await newest('authorizations', api('/me/authorizations'));
  if (!list) return;
  const ul = $('auth-list');
  ul.replaceChildren();
  if (!list.length) ul.append(el('li', { textContent: 'No authorizations.' }));
  for (const a of list) {
    const li = el('li', { className: 'authorization' });
    li.dataset.client = a.client_id;
    li.append(el('strong', { className: 'client-name', textContent: a.client_name || a.client_id }));
    li.append(el('div', { className: 'meta', textContent: 'Client id: ' + a.client_id }));
    li.append(el('div', { className: 'meta', textContent: 'Resource: ' + a.resource }));
    li.append(el('div', { className: 'meta', textContent: 'Scopes: ' + a.scope }));
    li.append(el('div', { className: 'meta', textContent: 'Granted: ' + when(a.granted_at) + ' · client last used: ' + when(a.client_last_used_at) }));
    if (a.current) {
      li.append(el('div', { className: 'meta', textContent: 'This console' }));
    } else {
      const b = el('button', { type: 'button', className: 'danger', textContent: 'Withdraw' });
      b.setAttribute('aria-label', 'Withdraw the authorization of ' + (a.client_name || a.client_id));
      b.addEventListener('click', async () => {
        try {
          await api('/me/authorizations/' + encodeURIComponent(a.id), { method: 'DELETE' });
          status('Withdrawn: ' + (a.client_name || a.client_id));
          await loadAuthorizations();
        } catch (e) { status(e.message); }
      });
      li.append(b);
    }
    ul.append(li);
  }
}

async function loadSessions() {
  const list = await newest('sessions', api('/me/sessions'));
  if (!list) return;
  const ul = $('session-list');
  ul.replaceChildren();
  for (const s of list) {
    const li = el('li', { className: 'session' });
    li.append(el('strong', { textContent: s.current ? 'This browser' : 'Another browser' }));
    li.append(el('div', { className: 'meta', textContent: 'Signed in: ' + when(s.signed_in_at) + ' · until ' + when(s.expires_at) }));
    ul.append(li);
  }
}

async function signOutOthers() {
  try {
    const r = await api('/me/sessions/sign-out-others', { method: 'POST' });
    status('Signed out of ' + r.signed_out + ' other session(s)');
    await loadSessions();
  } catch (e) { status(e.message); }
}

let resources = [];

function renderScopes() {
  const box = $('key-scopes');
  box.replaceChildren(el('legend', { textContent: 'Scopes' }));
  const r = resources.find((x) => x.uri === $('key-resource').value);
  for (const s of (r ? r.scopes : [])) {
    const input = el('input', { type: 'checkbox', name: 'scope', value: s.name, id: 'scope-' + s.name.replace(/[^A-Za-z0-9_-]/g, '_') });
    const label = el('label', { className: 'check', htmlFor: input.id });
    label.append(input, s.name + (s.description ? ' (' + s.description + ')' : ''));
    box.append(label);
  }
}

async function loadKeys() {
  const both = await newest('keys', Promise.all([api('/resources'), api('/me/api-keys')]));
  if (!both) return;
  const [known, list] = both;
  resources = known;
  const sel = $('key-resource');
  const keep = sel.value;
  sel.replaceChildren(...resources.map((r) => el('option', { value: r.uri, textContent: r.name + ' (' + r.uri + ')' })));
  if (keep) sel.value = keep;
  renderScopes();
  const ul = $('key-list');
  ul.replaceChildren();
  for (const k of list) {
    const li = el('li', { className: 'api-key' });
    li.dataset.id = k.id;
    li.append(el('strong', { textContent: k.label }));
    li.append(el('div', { className: 'meta', textContent: k.resource + ' · ' + k.scope }));
    li.append(el('div', { className: 'meta', textContent: 'Expires ' + when(k.expires_at) + ' · last used ' + when(k.last_used_at) }));
    li.append(el('div', { className: 'meta key-state', textContent: k.revoked_at ? 'Revoked' : (k.active ? 'Active' : 'Expired') }));
    if (k.active) {
      const b = el('button', { type: 'button', className: 'danger', textContent: 'Revoke' });
      b.setAttribute('aria-label', 'Revoke the key ' + k.label);
      b.addEventListener('click', async () => {
        try {
          await api('/me/api-keys/' + encodeURIComponent(k.id), { method: 'DELETE' });
          status('Revoked: ' + k.label);
          $('key-new').hidden = true;
          await loadKeys();
        } catch (e) { status(e.message); }
      });
      li.append(b);
    }
    ul.append(li);
  }
}

async function createKey(ev) {
  ev.preventDefault();
  const scope = [...document.querySelectorAll('#key-scopes input:checked')].map((i) => i.value).join(' ');
  try {
    const k = await api('/me/api-keys', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        label: $('key-label').value, resource: $('key-resource').value, scope,
        expires_in: Number($('key-days').value) * 86400,
      }),
    });
    $('key-value').textContent = k.key;
    $('key-new').hidden = false;
    status('Key created: ' + k.label);
    await loadKeys();
    $('key-value').focus();
  } catch (e) { status(e.message); }
}

// ------------------------------------------------------------------ MCP playground

const pg = { url: null, session: null, id: 0, tools: [] };

function logExchange(request, answerStatus, answer) {
  const li = el('li');
  li.append(el('div', { textContent: '→ ' + request.method }));
  li.append(el('pre', { className: 'request', textContent: JSON.stringify(request, null, 2) }));
  li.append(el('div', { textContent: '← ' + answerStatus }));
  li.append(el('pre', { className: 'answer', textContent: typeof answer === 'string' ? answer : JSON.stringify(answer, null, 2) }));
  $('pg-log').prepend(li);
}

// Reads a JSON-RPC answer that may come as JSON or as a server-sent event stream.
async function rpcBody(r) {
  const text = await r.text();
  if ((r.headers.get('content-type') || '').includes('text/event-stream')) {
    let last = null;
    for (const line of text.split(/\r?\n/)) {
      if (line.startsWith('data:')) {
        try { last = JSON.parse(line.slice(5)); } catch (e) { /* not JSON */ }
      }
    }
    return last;
  }
  try { return text ? JSON.parse(text) : null; } catch (e) { return text; }
}

async function rpc(method, params, notification) {
  const msg = { jsonrpc: '2.0', method };
  if (params) msg.params = params;
  if (!notification) msg.id = ++pg.id;
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };
  if (pg.session) headers['mcp-session-id'] = pg.session;
  const r = await authed(pg.url, pg.url, { method: 'POST', headers, body: JSON.stringify(msg) });
  const sid = r.headers.get('mcp-session-id');
  if (sid) pg.session = sid;
  const body = await rpcBody(r);
  logExchange(msg, r.status, body);
  if (!r.ok) throw new Error(method + ': HTTP ' + r.status);
  if (body && body.error) throw new Error(method + ': ' + body.error.message);
  return body && body.result;
}

// A sign-in in a small window for the MCP server's resource: the console keeps its own tokens.
function popupSignIn(resource, scope) {
  return new Promise((resolve, reject) => {
    const w = window.open('about:blank', 'mcp-oauth-signin', 'width=520,height=680');
    if (!w) { reject(new Error('allow pop-ups to connect')); return; }
    const onMessage = async (ev) => {
      if (ev.origin !== location.origin || ev.source !== w || !ev.data || ev.data.type !== 'mcp-oauth-callback') return;
      window.removeEventListener('message', onMessage);
      try {
        if (ev.data.error) throw new Error(ev.data.error);
        resolve(await redeem(ev.data.code, ev.data.state, ev.data.iss));
      } catch (e) { reject(e); }
    };
    window.addEventListener('message', onMessage);
    authorizeUrl(resource, scope).then((u) => { w.location = u; }, reject);
  });
}

async function connect(ev) {
  ev.preventDefault();
  const url = $('pg-url').value.trim();
  try {
    if (new URL(url).origin !== location.origin) throw new Error('the playground connects to MCP servers of this origin');
    if (!tokens.has(url)) {
      status('Signing in for ' + url + ' …');
      await popupSignIn(url, $('pg-scope').value.trim());
    }
    pg.url = url; pg.session = null;
    await rpc('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'mcp-oauth console', version: '1' } });
    await rpc('notifications/initialized', null, true);
    const tools = await rpc('tools/list', {});
    pg.tools = (tools && tools.tools) || [];
    renderTools();
    const list = async (method, key, ul, name) => {
      $(ul).replaceChildren();
      try {
        const r = await rpc(method, {});
        for (const x of (r && r[key]) || []) $(ul).append(el('li', { textContent: name(x) }));
      } catch (e) { $(ul).append(el('li', { textContent: e.message })); }
    };
    await list('resources/list', 'resources', 'pg-resources', (x) => (x.name || '') + ' ' + x.uri);
    await list('prompts/list', 'prompts', 'pg-prompts', (x) => x.name + (x.description ? ': ' + x.description : ''));
    $('pg-server').hidden = false;
    status('Connected to ' + url);
  } catch (e) { status(e.message); }
}

function renderTools() {
  const ul = $('pg-tools');
  ul.replaceChildren();
  for (const t of pg.tools) {
    const li = el('li');
    li.append(el('strong', { textContent: t.name }));
    if (t.description) li.append(el('div', { className: 'meta', textContent: t.description }));
    const b = el('button', { type: 'button', className: 'secondary', textContent: 'Open' });
    b.setAttribute('aria-label', 'Open the tool ' + t.name);
    b.dataset.tool = t.name;
    b.addEventListener('click', () => openTool(t));
    li.append(b);
    ul.append(li);
  }
}

// A form built from the tool's input schema: one labelled field per property.
function openTool(tool) {
  const form = $('pg-call');
  form.dataset.tool = tool.name;
  $('pg-call-legend').textContent = 'Call ' + tool.name;
  const box = $('pg-fields');
  box.replaceChildren();
  const schema = tool.inputSchema || {};
  const required = new Set(schema.required || []);
  for (const [name, prop] of Object.entries(schema.properties || {})) {
    const id = 'arg-' + name.replace(/[^A-Za-z0-9_-]/g, '_');
    const label = el('label', { htmlFor: id, textContent: name + (required.has(name) ? ' (required)' : '') + (prop.description ? ': ' + prop.description : '') });
    let input;
    if (Array.isArray(prop.enum)) {
      input = el('select', { id });
      for (const v of prop.enum) input.append(el('option', { value: String(v), textContent: String(v) }));
    } else if (prop.type === 'boolean') {
      input = el('input', { id, type: 'checkbox' });
    } else if (prop.type === 'number' || prop.type === 'integer') {
      input = el('input', { id, type: 'number', step: prop.type === 'integer' ? '1' : 'any' });
    } else {
      input = el('input', { id, type: 'text' });
    }
    input.name = name;
    input.dataset.type = prop.type || 'string';
    input.required = required.has(name) && prop.type !== 'boolean';
    box.append(label, input);
  }
  form.hidden = false;
  const first = box.querySelector('input, select');
  if (first) first.focus();
}

async function callTool(ev) {
  ev.preventDefault();
  const args = {};
  for (const input of $('pg-fields').querySelectorAll('input, select')) {
    const t = input.dataset.type;
    if (t === 'boolean') args[input.name] = input.checked;
    else if (input.value === '') continue;
    else if (t === 'number' || t === 'integer') args[input.name] = Number(input.value);
    else args[input.name] = input.value;
  }
  try {
    const r = await rpc('tools/call', { name: $('pg-call').dataset.tool, arguments: args });
    const text = ((r && r.content) || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
    $('pg-answer').textContent = text || JSON.stringify(r, null, 2);
  } catch (e) {
    $('pg-answer').textContent = e.message;
  }
}

// ------------------------------------------------------------------ start

async function start() {
  $('signin-btn').addEventListener('click', async () => {
    // console:admin is dropped by the server for users without the role `admin`.
    location.assign(await authorizeUrl(CONSOLE_RESOURCE, 'console console:admin'));
  });
  $('signout').addEventListener('click', () => { tokens.clear(); showSignIn('Signed out.'); });
  for (const b of document.querySelectorAll('nav button[data-view]')) b.addEventListener('click', () => show(b.dataset.view));
  $('key-form').addEventListener('submit', createKey);
  $('signout-others').addEventListener('click', signOutOthers);
  $('key-resource').addEventListener('change', renderScopes);
  $('pg-connect').addEventListener('submit', connect);
  $('pg-call').addEventListener('submit', callTool);
  $('pg-url').value = ISSUER + '/mcp';

  const q = new URLSearchParams(location.search);
  if (q.has('state') && (q.has('code') || q.has('error'))) {
    history.replaceState(null, '', REDIRECT);
    if (window.opener && window.name === 'mcp-oauth-signin') {
      // The playground's sign-in window: hand the code to the console and close.
      window.opener.postMessage({ type: 'mcp-oauth-callback', code: q.get('code'), state: q.get('state'), iss: q.get('iss'), error: q.get('error_description') || q.get('error') }, location.origin);
      window.close();
      return;
    }
    if (q.has('error')) { showSignIn('Sign-in failed: ' + (q.get('error_description') || q.get('error'))); return; }
    try {
      await redeem(q.get('code'), q.get('state'), q.get('iss'));
    } catch (e) { showSignIn('Sign-in failed: ' + e.message); return; }
  }
  if (!tokens.has(CONSOLE_RESOURCE)) { showSignIn(''); return; }
  try {
    const me = await api('/me');
    status('Signed in as ' + me.username);
    $('nav-admin').hidden = !me.admin;
    show('authorizations');
  } catch (e) { showSignIn(e.message); }
}

start();
