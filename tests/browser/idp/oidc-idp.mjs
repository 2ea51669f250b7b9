// A real OpenID Connect provider on loopback for the end-to-end SSO tests:
// the npm `oidc-provider` package (discovery, JWKS with an RS256 key made at
// start, authorization code + PKCE S256, userinfo), static test accounts and
// a plain login form plus a consent page that a browser fills in.
//
// Clients are not known when the IdP starts: the gateway's redirect URI holds
// the connection id, and the connection is created only after discovery
// works. So clients live in oidc-provider's adapter and are registered (or
// replaced) afterwards through a small admin endpoint:
//
//   POST /_admin/clients   Authorization: Bearer <admin token>
//   {"client_id": "...", "client_secret": "...", "redirect_uris": ["..."]}
//
// Run: node oidc-idp.mjs [--port N] [--accounts FILE.json]
// (or OIDC_IDP_ACCOUNTS='[...]'). Prints one JSON line on stdout when ready:
// {"ready":true,"issuer":"http://127.0.0.1:N","admin_token":"..."}.
// Accounts: [{"id","username","password","email","email_verified",
//             "given_name","family_name","groups":[...]}].
// Also importable: startOidcIdp({ port, accounts }) → { issuer, port,
// addClient(metadata), close() }.

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Provider from 'oidc-provider';

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head>` +
    `<body><main><h1>${esc(title)}</h1>${body}</main></body></html>`;
}

async function formBody(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(c);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function jsonBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

export async function startOidcIdp({ port = 0, accounts = [], adminToken = randomBytes(16).toString('hex') } = {}) {
  const byId = new Map(accounts.map((a) => [a.id, a]));
  const byUsername = new Map(accounts.map((a) => [a.username, a]));

  const server = createServer();
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', ok);
  });
  const actualPort = server.address().port;
  const issuer = `http://127.0.0.1:${actualPort}`;

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };

  const provider = new Provider(issuer, {
    clients: [],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    pkce: { required: () => true },
    scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'groups'],
      groups: ['groups'],
    },
    features: {
      devInteractions: { enabled: false },
    },
    interactions: {
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    async findAccount(ctx, id) {
      const a = byId.get(id);
      if (!a) return undefined;
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            email: a.email,
            email_verified: a.email_verified,
            name: [a.given_name, a.family_name].filter(Boolean).join(' ') || undefined,
            given_name: a.given_name,
            family_name: a.family_name,
            groups: a.groups ?? [],
          };
        },
      };
    },
    renderError(ctx, out, error) {
      ctx.type = 'html';
      ctx.body = page('Sign-in error', `<pre id="error">${esc(JSON.stringify(out, null, 2))}</pre>`);
    },
    ttl: {
      // Short-lived artefacts for a test IdP; defined to silence the defaults' warnings.
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
  });
  // Plain HTTP on loopback: oidc-provider still works, its cookies are not Secure.
  provider.on('server_error', (ctx, err) => console.error('oidc-idp server_error', err));

  const callback = provider.callback();

  async function interaction(req, res, uid, action) {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) return send(res, 400, page('Bad request', '<p>interaction mismatch</p>'));
    const { prompt, params, session } = details;
    const client = await provider.Client.find(params.client_id);

    if (req.method === 'GET' && !action) {
      if (prompt.name === 'login') {
        const hint = params.login_hint ? String(params.login_hint).split('@')[0] : '';
        return send(res, 200, page('Sign in to the test IdP',
          `<p>Application: <span id="client">${esc(client?.clientId)}</span></p>` +
          `<form method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">` +
          `<label>Username <input name="username" value="${esc(hint)}" autofocus></label> ` +
          '<label>Password <input name="password" type="password"></label> ' +
          '<button type="submit">Sign in</button></form>'));
      }
      return send(res, 200, page('Allow access',
        `<p><span id="client">${esc(client?.clientId)}</span> asks for: ` +
        `<span id="scopes">${esc([...(prompt.details.missingOIDCScope ?? [])].join(' '))}</span></p>` +
        `<form method="post" action="/interaction/${esc(uid)}/confirm"><button type="submit">Allow</button></form>`));
    }

    if (req.method === 'POST' && action === 'login') {
      const form = await formBody(req);
      const account = byUsername.get(form.get('username') ?? '');
      if (!account || (account.password !== undefined && account.password !== form.get('password'))) {
        return send(res, 401, page('Sign in to the test IdP',
          '<p id="error">Unknown user or wrong password.</p>' +
          `<p><a href="/interaction/${esc(uid)}">Try again</a></p>`));
      }
      return provider.interactionFinished(req, res, { login: { accountId: account.id } }, { mergeWithLastSubmission: false });
    }

    if (req.method === 'POST' && action === 'confirm') {
      await formBody(req);
      if (prompt.name !== 'consent') return send(res, 400, page('Bad request', '<p>nothing to confirm</p>'));
      let grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const d = prompt.details;
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      if (d.missingResourceScopes) {
        for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) {
          grant.addResourceScope(indicator, scopes.join(' '));
        }
      }
      const grantId = await grant.save();
      return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
    return send(res, 405, page('Not allowed', ''));
  }

  server.on('request', async (req, res) => {
    try {
      const url = new URL(req.url, issuer);
      if (url.pathname === '/_admin/clients' && req.method === 'POST') {
        if (req.headers.authorization !== `Bearer ${adminToken}`) {
          res.writeHead(401).end();
          return;
        }
        const meta = await jsonBody(req);
        await addClient(meta);
        res.writeHead(204).end();
        return;
      }
      const m = url.pathname.match(/^\/interaction\/([\w-]+)(?:\/(login|confirm))?$/);
      if (m) {
        await interaction(req, res, m[1], m[2]);
        return;
      }
      callback(req, res);
    } catch (err) {
      console.error('oidc-idp', err);
      if (!res.headersSent) send(res, 500, page('IdP error', `<pre>${esc(err.message)}</pre>`));
      else res.end();
    }
  });

  async function addClient(meta) {
    if (!meta.client_id || !Array.isArray(meta.redirect_uris)) throw new Error('client_id and redirect_uris are required');
    const payload = {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: meta.client_secret ? 'client_secret_basic' : 'none',
      ...meta,
    };
    await provider.Client.adapter.upsert(meta.client_id, payload);
    // Validate now rather than at the first login.
    const client = await provider.Client.find(meta.client_id);
    if (!client) throw new Error('client was not registered');
  }

  return {
    issuer,
    port: actualPort,
    adminToken,
    addClient,
    close: () => new Promise((ok) => server.close(ok)),
  };
}

function arg(name) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const accountsFile = arg('--accounts');
  const accounts = accountsFile
    ? JSON.parse(readFileSync(accountsFile, 'utf8'))
    : JSON.parse(process.env.OIDC_IDP_ACCOUNTS || '[]');
  const idp = await startOidcIdp({ port: Number(arg('--port') || 0), accounts, adminToken: process.env.OIDC_IDP_ADMIN_TOKEN || undefined });
  process.stdout.write(`${JSON.stringify({ ready: true, issuer: idp.issuer, port: idp.port, admin_token: idp.adminToken })}\n`);
  const stop = () => idp.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
