/**
 * The web console's page, style and script, as strings: tsc puts them into
 * dist/ with everything else, so a clean clone's `npm run build` is all it
 * takes. Plain DOM code, no framework and no third-party script (the page's
 * Content-Security-Policy allows scripts and styles from Coffer alone). All
 * text from the server is set with textContent, never parsed as HTML.
 *
 * The script talks only to /_coffer/console/api/ (console-api.ts): S3, KMS and
 * IAM calls go through it to Coffer's own APIs, signed there as the logged-in
 * identity; the session is an HttpOnly cookie, and the CSRF token the server
 * hands out after login is sent back in `x-coffer-csrf` on every call.
 */

export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Coffer console</title>
<link rel="stylesheet" href="/_coffer/console/app.css">
<script src="/_coffer/console/app.js" defer></script>
</head>
<body>
<header>
  <h1>Coffer</h1>
  <nav id="nav" hidden>
    <a href="#/buckets" data-nav="buckets">Buckets</a>
    <a href="#/keys" data-nav="keys">KMS keys</a>
    <a href="#/audit" data-nav="audit">KMS audit log</a>
    <a href="#/users" data-nav="users">Users</a>
    <span id="whoami"></span>
    <button id="logout" type="button">Log out</button>
  </nav>
</header>
<div id="error" role="alert" hidden></div>
<div id="notice" role="status" hidden></div>
<main id="main">
  <form id="login-form" hidden autocomplete="off">
    <h2>Log in</h2>
    <p>With an access key of an account root or an IAM user: the console can do what that identity may do, no more.</p>
    <label>Access key id <input id="login-key" name="accessKeyId" required spellcheck="false"></label>
    <label>Secret access key <input id="login-secret" name="secretAccessKey" type="password" required autocomplete="off"></label>
    <button id="login-submit" type="submit">Log in</button>
  </form>
  <section id="view"></section>
</main>
</body>
</html>
`;

export const CONSOLE_CSS = `
:root { --fg: #1d2430; --muted: #5b6675; --line: #d8dde4; --bg: #f6f7f9; --accent: #2456a6; --bad: #a4262c; --ok: #1e7b3a; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: #14213d; color: #fff; }
header h1 { font-size: 18px; margin: 0; letter-spacing: .04em; }
nav { display: flex; align-items: center; gap: 16px; flex: 1; }
nav a { color: #dfe7f5; text-decoration: none; padding: 4px 2px; border-bottom: 2px solid transparent; }
nav a.active { color: #fff; border-bottom-color: #f5b700; }
#whoami { margin-left: auto; color: #b9c6dc; font-size: 12px; }
main { padding: 20px 24px; max-width: 1200px; }
h2 { font-size: 18px; margin: 4px 0 14px; }
h3 { font-size: 15px; margin: 22px 0 8px; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f5; font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); }
td.mono, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; word-break: break-all; }
form.inline { display: flex; gap: 8px; align-items: end; flex-wrap: wrap; margin: 10px 0; }
label { display: flex; flex-direction: column; gap: 3px; font-size: 12px; color: var(--muted); }
input, select, button { font: inherit; padding: 5px 8px; border: 1px solid var(--line); border-radius: 4px; background: #fff; color: var(--fg); }
button { cursor: pointer; background: var(--accent); color: #fff; border-color: var(--accent); }
button.secondary { background: #fff; color: var(--accent); }
button.danger { background: #fff; color: var(--bad); border-color: var(--bad); }
td button { padding: 2px 7px; font-size: 12px; margin: 0 4px 4px 0; }
#login-form { background: #fff; border: 1px solid var(--line); padding: 20px; max-width: 420px; display: flex; flex-direction: column; gap: 12px; }
#error { margin: 12px 24px 0; padding: 10px 14px; background: #fde7e9; border: 1px solid #f1b0b5; color: var(--bad); border-radius: 4px; white-space: pre-wrap; }
#notice { margin: 12px 24px 0; padding: 10px 14px; background: #e6f4ea; border: 1px solid #a8d5b5; color: var(--ok); border-radius: 4px; }
dl.settings { display: grid; grid-template-columns: 220px 1fr; gap: 4px 16px; background: #fff; border: 1px solid var(--line); padding: 12px 16px; margin: 0; }
dl.settings dt { color: var(--muted); }
dl.settings dd { margin: 0; }
pre { background: #fff; border: 1px solid var(--line); padding: 10px; overflow: auto; max-height: 240px; margin: 0; }
.state-Enabled { color: var(--ok); font-weight: 600; }
.state-Disabled, .state-PendingDeletion { color: var(--bad); font-weight: 600; }
.crumbs a { color: var(--accent); }
.muted { color: var(--muted); }
`;

/* The script is written without template literals: it lives inside one. */
export const CONSOLE_JS = String.raw`'use strict';
(function () {
  var BASE = '/_coffer/console';
  var state = { csrf: null, identity: null, keys: [] };
  var $ = function (id) { return document.getElementById(id); };

  function ConsoleError(code, message, status) { this.code = code; this.message = message; this.status = status; }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'className') e.className = attrs[k];
      else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), attrs[k]);
      else if (attrs[k] !== undefined && attrs[k] !== null && attrs[k] !== false) e.setAttribute(k, attrs[k] === true ? '' : attrs[k]);
    });
    (children || []).forEach(function (c) { if (c !== null && c !== undefined) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function table(id, headings, rows) {
    return el('table', { id: id }, [el('thead', {}, [el('tr', {}, headings.map(function (h) { return el('th', { text: h }); }))]), el('tbody', {}, rows)]);
  }
  function showError(err) {
    var box = $('error');
    if (!err) { box.hidden = true; box.textContent = ''; return; }
    box.textContent = (err.code ? err.code + ': ' : '') + (err.message || String(err));
    box.hidden = false;
  }
  function notice(text) { var n = $('notice'); n.textContent = text || ''; n.hidden = !text; }
  function run(fn) {
    return function (ev) {
      if (ev && ev.preventDefault) ev.preventDefault();
      showError(null); notice(null);
      Promise.resolve().then(fn).catch(function (err) { if (!(err instanceof ConsoleError && err.code === 'NotLoggedIn')) showError(err); });
    };
  }
  function when(ms) { return ms ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : ''; }
  function size(n) { n = Number(n); if (n < 1024) return n + ' B'; if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB'; if (n < 1073741824) return (n / 1048576).toFixed(1) + ' MiB'; return (n / 1073741824).toFixed(2) + ' GiB'; }
  function xmlEscape(s) { return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;'); }
  function parseXml(text) { return new DOMParser().parseFromString(text, 'application/xml'); }
  function all(node, tag) { return Array.prototype.slice.call(node.getElementsByTagName(tag)); }
  function txt(node, tag) { var f = node.getElementsByTagName(tag)[0]; return f ? f.textContent : ''; }
  function encodeSegment(s) { return encodeURIComponent(s).replace(/[!'()*]/g, function (c) { return '%' + c.charCodeAt(0).toString(16).toUpperCase(); }); }
  function s3Path(bucket, key) { return '/' + encodeSegment(bucket) + (key !== undefined ? '/' + key.split('/').map(encodeSegment).join('/') : ''); }

  async function call(path, init) {
    init = init || {};
    init.headers = Object.assign({ 'x-coffer-csrf': state.csrf || '' }, init.headers || {});
    init.credentials = 'same-origin';
    var res = await fetch(BASE + '/api/' + path, init);
    if (res.status === 401) {
      showLogin();
      var body = await res.json().catch(function () { return {}; });
      throw new ConsoleError('NotLoggedIn', body.message || 'Log in first.', 401);
    }
    return res;
  }
  async function failure(res) {
    var text = await res.text();
    var type = res.headers.get('content-type') || '';
    if (type.indexOf('json') >= 0) {
      try { var j = JSON.parse(text); return new ConsoleError(j.__type || j.error || ('HTTP ' + res.status), j.message || j.Message || '', res.status); } catch (e) { /* fall through */ }
    }
    if (text) {
      var doc = parseXml(text);
      var code = txt(doc, 'Code');
      if (code) return new ConsoleError(code, txt(doc, 'Message'), res.status);
    }
    return new ConsoleError('HTTP ' + res.status, res.statusText || 'request failed', res.status);
  }
  /** An S3 call; answers in allowed (e.g. [404]) come back as responses, other failures throw. */
  async function s3(method, path, opts) {
    opts = opts || {};
    var url = 's3' + path + (opts.query ? '?' + opts.query : '');
    var res = await call(url, { method: method, headers: opts.headers || {}, body: opts.body });
    if (!res.ok && !(opts.allow && opts.allow.indexOf(res.status) >= 0)) throw await failure(res);
    return res;
  }
  async function s3Xml(method, path, opts) { var res = await s3(method, path, opts); return res.ok ? parseXml(await res.text()) : null; }
  async function kms(op, body) {
    var res = await call('kms', { method: 'POST', headers: { 'x-coffer-kms-target': op, 'content-type': 'application/json' }, body: JSON.stringify(body || {}) });
    if (!res.ok) throw await failure(res);
    return res.json();
  }
  async function iam(action, params) {
    var form = new URLSearchParams(Object.assign({ Action: action, Version: '2010-05-08' }, params || {}));
    var res = await call('iam', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    if (!res.ok) throw await failure(res);
    return parseXml(await res.text());
  }

  // ---- session
  function showLogin() {
    state.csrf = null; state.identity = null;
    $('nav').hidden = true;
    $('view').textContent = '';
    $('login-form').hidden = false;
  }
  function loggedIn(body) {
    state.csrf = body.csrfToken; state.identity = body.identity;
    $('login-form').hidden = true;
    $('login-secret').value = '';
    $('nav').hidden = false;
    $('whoami').textContent = body.identity.arn;
    route();
  }
  $('login-form').addEventListener('submit', run(async function () {
    var res = await fetch(BASE + '/api/login', {
      method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ accessKeyId: $('login-key').value.trim(), secretAccessKey: $('login-secret').value }),
    });
    $('login-secret').value = '';
    if (!res.ok) throw await failure(res);
    loggedIn(await res.json());
  }));
  $('logout').addEventListener('click', run(async function () {
    await call('logout', { method: 'POST' });
    showLogin();
  }));

  // ---- routing
  function route() {
    if (!state.identity) return;
    var hash = location.hash || '#/buckets';
    var parts = hash.slice(2).split('/');
    var page = parts[0];
    Array.prototype.forEach.call(document.querySelectorAll('[data-nav]'), function (a) { a.classList.toggle('active', a.getAttribute('data-nav') === (page === 'bucket' ? 'buckets' : page)); });
    var view = $('view');
    view.textContent = '';
    var go = { buckets: bucketsPage, bucket: bucketPage, keys: keysPage, audit: auditPage, users: usersPage }[page] || bucketsPage;
    run(function () { return go(view, parts.slice(1).map(decodeURIComponent)); })();
  }
  window.addEventListener('hashchange', route);

  // ---- buckets
  function describeEncryption(doc) {
    if (!doc) return { algorithm: 'none set: SSE-S3 (AES256), Coffer\'s default', key: '', bucketKey: '', blocked: '' };
    var blocked = all(doc, 'EncryptionType').map(function (e) { return e.textContent; });
    return {
      algorithm: txt(doc, 'SSEAlgorithm'),
      key: txt(doc, 'KMSMasterKeyID'),
      bucketKey: txt(doc, 'BucketKeyEnabled') || 'false',
      blocked: blocked.length ? blocked.join(', ') : 'none',
    };
  }
  async function bucketsPage(view) {
    view.appendChild(el('h2', { text: 'Buckets' }));
    var form = el('form', { id: 'create-bucket', className: 'inline' }, [
      el('label', {}, ['New bucket', el('input', { id: 'new-bucket', required: true, pattern: '[a-z0-9][a-z0-9.\\-]{1,61}[a-z0-9]', spellcheck: 'false' })]),
      el('button', { type: 'submit', id: 'create-bucket-submit', text: 'Create bucket' }),
    ]);
    form.addEventListener('submit', run(async function () {
      var name = $('new-bucket').value.trim();
      await s3('PUT', s3Path(name));
      location.hash = '#/bucket/' + encodeURIComponent(name);
    }));
    view.appendChild(form);
    var doc = await s3Xml('GET', '/');
    var buckets = all(doc, 'Bucket');
    var rows = await Promise.all(buckets.map(async function (b) {
      var name = txt(b, 'Name');
      var enc = '';
      try { enc = describeEncryption(await s3Xml('GET', s3Path(name), { query: 'encryption', allow: [404] })).algorithm; } catch (e) { enc = e.code || 'unknown'; }
      return el('tr', { 'data-bucket': name }, [
        el('td', {}, [el('a', { href: '#/bucket/' + encodeURIComponent(name), className: 'bucket-link', text: name })]),
        el('td', { text: txt(b, 'CreationDate') }),
        el('td', { className: 'bucket-enc', text: enc }),
      ]);
    }));
    view.appendChild(table('buckets', ['Name', 'Created', 'Default encryption'], rows));
    if (!rows.length) view.appendChild(el('p', { className: 'muted', text: 'No buckets yet.' }));
  }

  async function bucketPage(view, args) {
    var bucket = args[0];
    var prefix = args.slice(1).join('/');
    view.appendChild(el('p', { className: 'crumbs' }, [el('a', { href: '#/buckets', text: 'Buckets' }), ' / ', bucket]));
    view.appendChild(el('h2', { id: 'bucket-name', text: bucket }));
    var settings = el('dl', { id: 'bucket-settings', className: 'settings' });
    view.appendChild(el('h3', { text: 'Settings' }));
    view.appendChild(settings);
    function setting(label, id, value) { settings.appendChild(el('dt', { text: label })); settings.appendChild(el('dd', { id: id, className: 'mono', text: value })); }
    var results = await Promise.all([
      s3Xml('GET', s3Path(bucket), { query: 'encryption', allow: [404] }).catch(function (e) { return e; }),
      s3Xml('GET', s3Path(bucket), { query: 'publicAccessBlock', allow: [404] }).catch(function (e) { return e; }),
      s3('GET', s3Path(bucket), { query: 'policy', allow: [404] }).then(function (r) { return r.ok ? r.text() : null; }).catch(function (e) { return e; }),
    ]);
    var shown = function (v, f) { return v instanceof ConsoleError ? v.code + ': ' + v.message : f(v); };
    var enc = results[0] instanceof ConsoleError ? null : describeEncryption(results[0]);
    setting('Default encryption', 'enc-algorithm', shown(results[0], function () { return enc.algorithm; }));
    setting('KMS key', 'enc-kms-key', shown(results[0], function () { return enc.key || '—'; }));
    setting('S3 Bucket Key', 'enc-bucket-key', shown(results[0], function () { return enc.bucketKey || '—'; }));
    setting('Blocked encryption types', 'enc-blocked', shown(results[0], function () { return enc.blocked || '—'; }));
    setting('Block Public Access', 'pab', shown(results[1], function (d) {
      if (!d) return 'none (nothing blocked)';
      return ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'].map(function (k) { return k + '=' + txt(d, k); }).join('  ');
    }));
    settings.appendChild(el('dt', { text: 'Bucket policy' }));
    settings.appendChild(el('dd', {}, [el('pre', { id: 'policy', text: shown(results[2], function (p) { return p ? JSON.stringify(JSON.parse(p), null, 2) : 'none'; }) })]));

    // Default encryption form.
    await loadKeyChoices();
    var encForm = el('form', { id: 'encryption-form', className: 'inline' }, [
      el('label', {}, ['Default encryption', el('select', { id: 'enc-mode' }, [el('option', { value: 'AES256', text: 'SSE-S3 (AES256)' }), el('option', { value: 'aws:kms', text: 'SSE-KMS (aws:kms)' }), el('option', { value: 'aws:kms:dsse', text: 'DSSE-KMS' })])]),
      el('label', {}, ['KMS key (id, ARN or alias)', el('input', { id: 'enc-key', list: 'key-choices', size: 40, spellcheck: 'false' })]),
      el('datalist', { id: 'key-choices' }, state.keys.map(function (k) { return el('option', { value: k }); })),
      el('label', {}, ['S3 Bucket Key', el('input', { id: 'enc-bucketkey', type: 'checkbox', checked: true })]),
      el('button', { type: 'submit', id: 'enc-save', text: 'Set default encryption' }),
    ]);
    if (enc && enc.algorithm && enc.algorithm.indexOf('none') !== 0) { encForm.querySelector('#enc-mode').value = enc.algorithm; encForm.querySelector('#enc-key').value = enc.key; }
    encForm.addEventListener('submit', run(async function () {
      var mode = $('enc-mode').value;
      var key = $('enc-key').value.trim();
      var body = '<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>' + xmlEscape(mode) + '</SSEAlgorithm>' +
        (mode !== 'AES256' && key ? '<KMSMasterKeyID>' + xmlEscape(key) + '</KMSMasterKeyID>' : '') +
        '</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>' + ($('enc-bucketkey').checked ? 'true' : 'false') + '</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>';
      await s3('PUT', s3Path(bucket), { query: 'encryption', headers: { 'content-type': 'application/xml' }, body: body });
      route();
      notice('Default encryption set.');
    }));
    view.appendChild(encForm);

    // Objects.
    view.appendChild(el('h3', { text: 'Objects' + (prefix ? ' under ' + prefix : '') }));
    var upload = el('form', { id: 'upload-form', className: 'inline' }, [
      el('label', {}, ['Upload a file' + (prefix ? ' to ' + prefix : ''), el('input', { id: 'upload-file', type: 'file', required: true })]),
      el('button', { type: 'submit', id: 'upload-submit', text: 'Upload' }),
    ]);
    upload.addEventListener('submit', run(async function () {
      var file = $('upload-file').files[0];
      if (!file) return;
      var key = prefix + file.name;
      await s3('PUT', s3Path(bucket, key), { headers: { 'content-type': file.type || 'application/octet-stream' }, body: file });
      route();
      notice('Uploaded ' + key + '.');
    }));
    view.appendChild(upload);
    var q = new URLSearchParams({ 'list-type': '2', delimiter: '/', prefix: prefix, 'max-keys': '200' });
    var listing = await s3Xml('GET', s3Path(bucket), { query: q.toString() });
    var rows = [];
    all(listing, 'CommonPrefixes').forEach(function (p) {
      var sub = txt(p, 'Prefix');
      rows.push(el('tr', { 'data-prefix': sub }, [el('td', {}, [el('a', { href: '#/bucket/' + encodeURIComponent(bucket) + '/' + sub.split('/').map(encodeURIComponent).join('/'), text: sub.slice(prefix.length) })]), el('td'), el('td'), el('td'), el('td'), el('td')]));
    });
    var objects = all(listing, 'Contents');
    var heads = await Promise.all(objects.map(function (o) { return s3('HEAD', s3Path(bucket, txt(o, 'Key')), { allow: [400, 403, 404, 500, 503] }).catch(function (e) { return e; }); }));
    objects.forEach(function (o, i) {
      var key = txt(o, 'Key');
      var h = heads[i];
      var mode = h instanceof ConsoleError ? h.code : h.ok ? (h.headers.get('x-amz-server-side-encryption') || (h.headers.get('x-amz-server-side-encryption-customer-algorithm') ? 'SSE-C' : '')) : 'HEAD ' + h.status;
      var kmsKey = h instanceof ConsoleError || !h.ok ? '' : (h.headers.get('x-amz-server-side-encryption-aws-kms-key-id') || '');
      rows.push(el('tr', { 'data-key': key }, [
        el('td', { className: 'mono', text: key.slice(prefix.length) }),
        el('td', { text: size(txt(o, 'Size')) }),
        el('td', { text: txt(o, 'LastModified') }),
        el('td', { className: 'obj-enc', text: mode }),
        el('td', { className: 'obj-kms mono', text: kmsKey }),
        el('td', {}, [
          el('button', { type: 'button', className: 'download secondary', text: 'Download', onclick: run(function () { return download(bucket, key); }) }),
          el('button', { type: 'button', className: 'delete danger', text: 'Delete', onclick: run(async function () { await s3('DELETE', s3Path(bucket, key)); route(); notice('Deleted ' + key + '.'); }) }),
        ]),
      ]));
    });
    view.appendChild(table('objects', ['Key', 'Size', 'Last modified', 'Encryption', 'KMS key', ''], rows));
    if (!rows.length) view.appendChild(el('p', { className: 'muted', text: 'No objects' + (prefix ? ' under this prefix.' : '.') }));
  }
  async function download(bucket, key) {
    var res = await s3('GET', s3Path(bucket, key));
    var blob = await res.blob();
    var url = URL.createObjectURL(blob);
    var a = el('a', { href: url, download: key.split('/').pop() || 'download' });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
    notice('Downloaded ' + key + ' (' + size(blob.size) + ').');
  }

  // ---- KMS keys
  async function loadKeyChoices() {
    try {
      var aliases = (await kms('ListAliases')).Aliases || [];
      var keys = (await kms('ListKeys')).Keys || [];
      state.keys = aliases.filter(function (a) { return a.TargetKeyId; }).map(function (a) { return a.AliasName; }).concat(keys.map(function (k) { return k.KeyId; }));
    } catch (e) { state.keys = []; }
  }
  async function keysPage(view) {
    view.appendChild(el('h2', { text: 'KMS keys' }));
    var create = el('form', { id: 'create-key', className: 'inline' }, [
      el('label', {}, ['Description', el('input', { id: 'key-description', size: 30 })]),
      el('label', {}, ['Alias (optional)', el('input', { id: 'key-alias', placeholder: 'alias/my-key', spellcheck: 'false' })]),
      el('button', { type: 'submit', id: 'create-key-submit', text: 'Create key' }),
    ]);
    create.addEventListener('submit', run(async function () {
      var meta = (await kms('CreateKey', { Description: $('key-description').value })).KeyMetadata;
      var alias = $('key-alias').value.trim();
      if (alias) await kms('CreateAlias', { AliasName: alias.indexOf('alias/') === 0 ? alias : 'alias/' + alias, TargetKeyId: meta.KeyId });
      route();
      notice('Created key ' + meta.KeyId + (alias ? ' (' + alias + ')' : '') + '.');
    }));
    view.appendChild(create);
    view.appendChild(el('form', { className: 'inline' }, [el('label', {}, ['Deletion waiting period (days)', el('input', { id: 'deletion-days', type: 'number', min: 0, max: 30, value: 30 })])]));
    var keys = (await kms('ListKeys')).Keys || [];
    var aliases = [];
    try { aliases = (await kms('ListAliases')).Aliases || []; } catch (e) { /* aliases need kms:ListAliases */ }
    var rows = await Promise.all(keys.map(async function (k) {
      var meta;
      try { meta = (await kms('DescribeKey', { KeyId: k.KeyId })).KeyMetadata; } catch (e) { return el('tr', { 'data-key-id': k.KeyId }, [el('td', { className: 'mono key-id', text: k.KeyId }), el('td', { colSpan: 6, text: e.code + ': ' + e.message })]); }
      var rotation = '';
      try {
        var r = await kms('GetKeyRotationStatus', { KeyId: k.KeyId });
        rotation = r.KeyRotationEnabled ? 'every ' + r.RotationPeriodInDays + ' days' + (r.NextRotationDate ? ', next ' + when(r.NextRotationDate * 1000) : '') : 'off';
      } catch (e) { rotation = e.code || ''; }
      var names = aliases.filter(function (a) { return a.TargetKeyId === k.KeyId; }).map(function (a) { return a.AliasName; }).join(', ');
      var act = function (label, cls, op, body) {
        return el('button', { type: 'button', className: cls, text: label, onclick: run(async function () { await kms(op, Object.assign({ KeyId: k.KeyId }, body ? body() : {})); route(); notice(op + ' ' + k.KeyId + ': done.'); }) });
      };
      var customer = meta.KeyManager === 'CUSTOMER';
      var state_ = meta.KeyState;
      return el('tr', { 'data-key-id': k.KeyId }, [
        el('td', { className: 'mono key-id', text: k.KeyId }),
        el('td', { className: 'mono key-aliases', text: names }),
        el('td', { className: 'key-desc', text: meta.Description || '' }),
        el('td', { className: 'key-state state-' + state_, text: state_ }),
        el('td', { className: 'key-rotation', text: rotation }),
        el('td', { className: 'key-deletion', text: meta.DeletionDate ? when(meta.DeletionDate * 1000) : '' }),
        el('td', {}, customer ? [
          state_ === 'Enabled' ? act('Disable', 'key-disable danger', 'DisableKey') : null,
          state_ === 'Disabled' ? act('Enable', 'key-enable secondary', 'EnableKey') : null,
          state_ === 'Enabled' ? act('Rotate now', 'key-rotate secondary', 'RotateKeyOnDemand') : null,
          state_ === 'Enabled' ? act(rotation === 'off' ? 'Enable rotation' : 'Disable rotation', 'key-rotation-toggle secondary', rotation === 'off' ? 'EnableKeyRotation' : 'DisableKeyRotation') : null,
          state_ !== 'PendingDeletion' ? act('Schedule deletion', 'key-schedule-delete danger', 'ScheduleKeyDeletion', function () { return { PendingWindowInDays: Number($('deletion-days').value) }; }) : act('Cancel deletion', 'key-cancel-delete secondary', 'CancelKeyDeletion'),
        ] : [el('span', { className: 'muted', text: 'managed by Coffer' })]),
      ]);
    }));
    view.appendChild(table('keys', ['Key id', 'Aliases', 'Description', 'State', 'Automatic rotation', 'Deletion date', 'Actions'], rows));
  }

  // ---- audit log
  async function auditPage(view) {
    view.appendChild(el('h2', { text: 'KMS audit log' }));
    var form = el('form', { id: 'audit-form', className: 'inline' }, [
      el('label', {}, ['Key (id or ARN)', el('input', { id: 'audit-key', size: 38, spellcheck: 'false' })]),
      el('label', {}, ['Since (ISO time, or 15m / 2h / 7d)', el('input', { id: 'audit-since', value: '24h' })]),
      el('label', {}, ['Until', el('input', { id: 'audit-until' })]),
      el('button', { type: 'submit', id: 'audit-submit', text: 'Show' }),
    ]);
    var holder = el('div');
    var load = run(async function () {
      var q = new URLSearchParams({ limit: '300' });
      [['key', 'audit-key'], ['since', 'audit-since'], ['until', 'audit-until']].forEach(function (p) { var v = $(p[1]).value.trim(); if (v) q.set(p[0], v); });
      var res = await call('audit?' + q.toString());
      if (!res.ok) throw await failure(res);
      var events = (await res.json()).events;
      holder.textContent = '';
      holder.appendChild(table('audit', ['Time', 'Principal', 'Via', 'Operation', 'Key', 'Outcome'], events.map(function (e) {
        return el('tr', {}, [
          el('td', { className: 'mono', text: e.time }), el('td', { className: 'mono', text: e.principal }), el('td', { text: e.invokedBy || '' }),
          el('td', { text: e.operation }), el('td', { className: 'mono', text: (e.keyId || '') + (e.keyVersion ? ' v' + e.keyVersion : '') }),
          el('td', { className: e.outcome === 'success' ? 'state-Enabled' : 'state-Disabled', text: e.outcome === 'success' ? 'success' : (e.errorType || 'failure') }),
        ]);
      })));
      if (!events.length) holder.appendChild(el('p', { className: 'muted', text: 'No events match.' }));
    });
    form.addEventListener('submit', load);
    view.appendChild(form);
    view.appendChild(holder);
    load();
  }

  // ---- users
  async function usersPage(view) {
    view.appendChild(el('h2', { text: 'Users and access keys' }));
    var doc = await iam('ListUsers');
    var users = all(doc, 'member').filter(function (m) { return m.getElementsByTagName('UserName').length; });
    var rows = await Promise.all(users.map(async function (u) {
      var name = txt(u, 'UserName');
      var keys = '';
      try {
        var kd = await iam('ListAccessKeys', { UserName: name });
        keys = all(kd, 'member').map(function (m) { return txt(m, 'AccessKeyId') + ' (' + txt(m, 'Status') + ')'; }).join(', ');
      } catch (e) { keys = e.code; }
      return el('tr', { 'data-user': name }, [el('td', { text: name }), el('td', { className: 'mono', text: txt(u, 'Arn') }), el('td', { text: txt(u, 'CreateDate') }), el('td', { className: 'mono user-keys', text: keys || 'none' })]);
    }));
    view.appendChild(table('users', ['User', 'ARN', 'Created', 'Access keys'], rows));
    if (!rows.length) view.appendChild(el('p', { className: 'muted', text: 'No IAM users in this account.' }));
  }

  // ---- start
  (async function () {
    var res = await fetch(BASE + '/api/session', { credentials: 'same-origin' });
    if (res.ok) loggedIn(await res.json()); else showLogin();
  })().catch(function (e) { showLogin(); showError(e); });
})();
`;
