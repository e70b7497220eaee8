// The console's administration view (role `admin`, scope `console:admin`): clients, users,
// resources and scopes, signing keys, the audit log. Uses console.js's helpers (api, newest, el,
// when, status); every server text goes in through textContent.
'use strict';

window.consoleAdmin = (() => {
  const KINDS = ['login_succeeded', 'login_failed', 'login_throttled', 'consent_given', 'consent_denied',
    'consent_revoked', 'client_registered', 'client_removed', 'token_revoked', 'refresh_reuse', 'code_replay',
    'key_rotated', 'key_deleted', 'client_disabled', 'user_disabled', 'api_key_created', 'api_key_revoked', 'api_key_used'];

  function card(title, ...lines) {
    const li = el('li');
    li.append(el('strong', { className: 'title', textContent: title }));
    for (const l of lines) li.append(el('div', { className: 'meta', textContent: l }));
    return li;
  }

  function showSecret(text) {
    const p = document.getElementById('admin-secret');
    p.textContent = text;
    p.hidden = false;
    p.tabIndex = -1;
    p.focus();
  }

  async function loadClients() {
    const list = await newest('adm-clients', api('/admin/clients'));
    if (!list) return;
    const ul = document.getElementById('adm-clients');
    ul.replaceChildren();
    for (const c of list) {
      const li = card(c.client_name || c.client_id, 'Client id: ' + c.client_id,
        'Authentication: ' + c.token_endpoint_auth_method + ' · origin: ' + c.origin,
        'Last used: ' + when(c.last_used_at));
      li.dataset.client = c.client_id;
      li.append(el('div', { className: 'meta client-state', textContent: c.disabled_at ? 'Disabled' : 'Enabled' }));
      if (c.client_id !== 'mcp-oauth-console') {
        const d = el('button', { type: 'button', className: c.disabled_at ? 'secondary' : 'danger', textContent: c.disabled_at ? 'Enable' : 'Disable' });
        d.dataset.action = c.disabled_at ? 'enable' : 'disable';
        d.setAttribute('aria-label', d.textContent + ' ' + (c.client_name || c.client_id));
        d.addEventListener('click', async () => {
          try {
            await api('/admin/clients/' + encodeURIComponent(c.client_id) + '/' + d.dataset.action, { method: 'POST' });
            status((c.disabled_at ? 'Enabled: ' : 'Disabled: ') + (c.client_name || c.client_id));
            await loadClients();
          } catch (e) { status(e.message); }
        });
        li.append(d);
      }
      if (c.has_secret) {
        const form = el('form', { className: 'inline rotate' });
        const id = 'overlap-' + c.client_id.replace(/[^A-Za-z0-9_-]/g, '_');
        const hours = el('input', { id, type: 'number', min: '0', max: '720', value: '24' });
        form.append(el('label', { htmlFor: id, textContent: 'Old secret keeps working for (hours)' }), hours,
          el('button', { type: 'submit', className: 'secondary', textContent: 'Rotate secret' }));
        form.addEventListener('submit', async (ev) => {
          ev.preventDefault();
          try {
            const overlap = Math.round(Number(hours.value) * 3600);
            const r = await api('/admin/clients/' + encodeURIComponent(c.client_id) + '/rotate-secret?overlap=' + overlap, { method: 'POST' });
            showSecret('New secret of ' + c.client_id + ' (shown once): ' + r.client_secret +
              (r.previous_secret_until ? ' · the old one works until ' + when(r.previous_secret_until) : ' · the old one no longer works'));
          } catch (e) { status(e.message); }
        });
        li.append(form);
      }
      ul.append(li);
    }
  }

  async function post(path, body) {
    return api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  async function loadUsers() {
    const list = await newest('adm-users', api('/admin/users'));
    if (!list) return;
    const ul = document.getElementById('adm-users');
    ul.replaceChildren();
    for (const u of list) {
      const li = card(u.username, 'Roles: ' + (u.roles.join(', ') || 'none'), 'Created: ' + when(u.created_at));
      li.dataset.user = u.username;
      li.append(el('div', { className: 'meta user-state', textContent: u.disabled_at ? 'Disabled' : 'Enabled' }));
      const toggle = el('button', { type: 'button', className: u.disabled_at ? 'secondary' : 'danger', textContent: u.disabled_at ? 'Enable' : 'Disable' });
      toggle.dataset.action = u.disabled_at ? 'enable' : 'disable';
      toggle.setAttribute('aria-label', toggle.textContent + ' ' + u.username);
      toggle.addEventListener('click', async () => {
        try {
          await api('/admin/users/' + encodeURIComponent(u.username) + '/' + toggle.dataset.action, { method: 'POST' });
          status((u.disabled_at ? 'Enabled: ' : 'Disabled: ') + u.username);
          await loadUsers();
        } catch (e) { status(e.message); }
      });
      li.append(toggle);
      const isAdmin = u.roles.includes('admin');
      const role = el('button', { type: 'button', className: 'secondary', textContent: isAdmin ? 'Remove admin role' : 'Make admin' });
      role.addEventListener('click', async () => {
        try {
          await post('/admin/users/' + encodeURIComponent(u.username) + '/roles', isAdmin ? { remove: ['admin'] } : { add: ['admin'] });
          status('Roles of ' + u.username + ' changed');
          await loadUsers();
        } catch (e) { status(e.message); }
      });
      const form = el('form', { className: 'inline' });
      const id = 'pw-' + u.id;
      const input = el('input', { id, type: 'password', required: true, autocomplete: 'new-password' });
      form.append(el('label', { htmlFor: id, textContent: 'New password for ' + u.username }), input,
        el('button', { type: 'submit', className: 'secondary', textContent: 'Reset password' }));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        try {
          await post('/admin/users/' + encodeURIComponent(u.username) + '/password', { password: input.value });
          input.value = '';
          status('Password of ' + u.username + ' reset');
        } catch (e) { status(e.message); }
      });
      li.append(role, form);
      ul.append(li);
    }
  }

  async function addUser(ev) {
    ev.preventDefault();
    const name = document.getElementById('adm-username');
    const pw = document.getElementById('adm-password');
    const roles = document.getElementById('adm-admin').checked ? ['admin'] : [];
    try {
      await post('/admin/users', { username: name.value, password: pw.value, roles });
      status('User ' + name.value + ' added');
      name.value = ''; pw.value = '';
      await loadUsers();
    } catch (e) { status(e.message); }
  }

  async function loadResources() {
    const list = await newest('adm-resources', api('/admin/resources'));
    if (!list) return;
    const ul = document.getElementById('adm-resources');
    ul.replaceChildren();
    for (const r of list) {
      ul.append(card(r.name || r.uri, r.uri, ...r.scopes.map((s) => s.name + (s.description ? ': ' + s.description : '') +
        (s.roles && s.roles.length ? ' (roles: ' + s.roles.join(', ') + ')' : ''))));
    }
  }

  async function loadKeys() {
    const list = await newest('adm-keys', api('/admin/keys'));
    if (!list) return;
    const ul = document.getElementById('adm-keys');
    ul.replaceChildren();
    for (const k of list) {
      ul.append(card(k.kid, k.alg + ' · published ' + when(k.created_at), 'Signs from ' + when(k.activates_at) +
        (k.retires_at ? ' · retires ' + when(k.retires_at) : '')));
    }
  }

  async function loadAudit(ev) {
    if (ev) ev.preventDefault();
    const kind = document.getElementById('adm-audit-kind').value;
    const hours = Number(document.getElementById('adm-audit-hours').value) || 24;
    const since = Math.floor(Date.now() / 1000) - hours * 3600;
    const q = new URLSearchParams({ since: String(since), limit: '100' });
    if (kind) q.set('kind', kind);
    const list = await newest('adm-audit', api('/admin/audit?' + q.toString()));
    if (!list) return;
    const ol = document.getElementById('adm-audit');
    ol.replaceChildren();
    for (const e of list) {
      const li = el('li', { className: 'audit-event' });
      li.dataset.kind = e.kind;
      li.append(el('div', { textContent: when(e.at) + ' · ' + e.kind + (e.client_id ? ' · client ' + e.client_id : '') + (e.user_id ? ' · user ' + e.user_id : '') }));
      if (e.detail) li.append(el('pre', { textContent: JSON.stringify(e.detail) }));
      ol.append(li);
    }
  }

  let wired = false;
  async function load() {
    if (!wired) {
      wired = true;
      const sel = document.getElementById('adm-audit-kind');
      for (const k of KINDS) sel.append(el('option', { value: k, textContent: k }));
      document.getElementById('adm-user-form').addEventListener('submit', addUser);
      document.getElementById('adm-audit-form').addEventListener('submit', loadAudit);
    }
    await Promise.all([loadClients(), loadUsers(), loadResources(), loadKeys(), loadAudit()]);
  }

  return { load };
})();
