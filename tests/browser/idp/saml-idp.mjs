// A SAML 2.0 identity provider on loopback for the end-to-end SSO tests,
// built on npm `samlify` (schema validation with @authenio/samlify-node-xmllint,
// libxml compiled to WebAssembly: no Java). It serves its metadata
// (HTTP-Redirect SSO endpoint, a signing certificate made at start with
// `openssl req -x509`), receives an AuthnRequest over HTTP-Redirect, shows a
// login form, then posts a Response whose Assertion is signed (RSA-SHA256,
// persistent NameID, attributes email, givenName, surname, groups) to the
// service provider's ACS with the RelayState, through an auto-submitting form.
//
// Service providers are registered after start (the gateway's SP metadata URL
// holds the connection id, known only once the connection exists):
//
//   POST /_admin/sps   Authorization: Bearer <admin token>
//   {"metadata_url": "http://…/sso/saml/{id}/metadata"}   or   {"metadata": "<xml>"}
//
// Run: node saml-idp.mjs [--port N] [--accounts FILE.json] [--sign-response]
// (or SAML_IDP_ACCOUNTS='[...]'). Prints one JSON line on stdout when ready:
// {"ready":true,"base":"http://127.0.0.1:N","metadata_url":"…/metadata","admin_token":"…"}.
// Accounts: [{"id" (the persistent NameID),"username","password","email",
//             "given_name","surname","groups":[...]}].

import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as samlify from 'samlify';
import * as xmllint from '@authenio/samlify-node-xmllint';

samlify.setSchemaValidator(xmllint);

const NAMEID_PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const BINDING_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body, extraHead = '') {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>${extraHead}</head>` +
    `<body><main><h1>${esc(title)}</h1>${body}</main></body></html>`;
}

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 1024 * 1024) throw new Error('body too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The query's parameters still percent-encoded (samlify decodes them itself). */
function rawQuery(search) {
  const out = {};
  for (const part of search.replace(/^\?/, '').split('&')) {
    if (!part) continue;
    const i = part.indexOf('=');
    const k = decodeURIComponent(i < 0 ? part : part.slice(0, i));
    out[k] = i < 0 ? '' : part.slice(i + 1);
  }
  return out;
}

/** A 2048-bit RSA key and a self-signed certificate, from openssl. */
function makeSigningKey() {
  const dir = mkdtempSync(join(tmpdir(), 'saml-idp-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-sha256', '-nodes', '-days', '2',
      '-subj', '/CN=rollcall test SAML IdP', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
    { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const xmlEsc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]);

function attribute(name, values) {
  const vs = (Array.isArray(values) ? values : [values]).filter((v) => v !== undefined && v !== null);
  return `<saml:Attribute Name="${xmlEsc(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">` +
    vs.map((v) => `<saml:AttributeValue xsi:type="xs:string">${xmlEsc(v)}</saml:AttributeValue>`).join('') +
    '</saml:Attribute>';
}

/** The Response, unsigned (samlify signs the Assertion afterwards). */
function responseXml({ id, assertionId, issuer, destination, inResponseTo, audience, account, lifetimeSecs }) {
  const now = new Date();
  const later = new Date(now.getTime() + lifetimeSecs * 1000).toISOString();
  const instant = now.toISOString();
  const inResp = inResponseTo ? ` InResponseTo="${xmlEsc(inResponseTo)}"` : '';
  return '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"' +
    ` ID="${id}" Version="2.0" IssueInstant="${instant}" Destination="${xmlEsc(destination)}"${inResp}>` +
    `<saml:Issuer>${xmlEsc(issuer)}</saml:Issuer>` +
    '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>' +
    '<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema"' +
    ` ID="${assertionId}" Version="2.0" IssueInstant="${instant}">` +
    `<saml:Issuer>${xmlEsc(issuer)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="${NAMEID_PERSISTENT}">${xmlEsc(account.id)}</saml:NameID>` +
    '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">' +
    `<saml:SubjectConfirmationData NotOnOrAfter="${later}" Recipient="${xmlEsc(destination)}"${inResp}/>` +
    '</saml:SubjectConfirmation></saml:Subject>' +
    `<saml:Conditions NotBefore="${instant}" NotOnOrAfter="${later}">` +
    `<saml:AudienceRestriction><saml:Audience>${xmlEsc(audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${instant}" SessionIndex="${assertionId}">` +
    '<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>' +
    '</saml:AuthnStatement>' +
    '<saml:AttributeStatement>' +
    attribute('email', account.email) +
    attribute('givenName', account.given_name) +
    attribute('surname', account.surname) +
    attribute('groups', account.groups ?? []) +
    '</saml:AttributeStatement>' +
    '</saml:Assertion></samlp:Response>';
}

export async function startSamlIdp({
  port = 0,
  accounts = [],
  signResponse = false,
  lifetimeSecs = 300,
  adminToken = randomBytes(16).toString('hex'),
} = {}) {
  const byUsername = new Map(accounts.map((a) => [a.username, a]));
  const server = createServer();
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', ok);
  });
  const actualPort = server.address().port;
  const base = `http://127.0.0.1:${actualPort}`;
  const { key, cert } = makeSigningKey();

  const idp = samlify.IdentityProvider({
    entityID: `${base}/metadata`,
    privateKey: key,
    signingCert: cert,
    nameIDFormat: [NAMEID_PERSISTENT],
    wantAuthnRequestsSigned: false,
    requestSignatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    singleSignOnService: [{ Binding: BINDING_REDIRECT, Location: `${base}/sso` }],
  });

  const sps = new Map(); // entity id → samlify ServiceProvider
  const pending = new Map(); // uid → { sp, request, relayState, acs, expires }
  const log = []; // what happened, for tests: { event, ... }

  async function addSp({ metadata, metadata_url: metadataUrl }) {
    let xml = metadata;
    if (!xml) {
      const r = await fetch(metadataUrl);
      if (!r.ok) throw new Error(`SP metadata ${metadataUrl}: HTTP ${r.status}`);
      xml = await r.text();
    }
    const sp = samlify.ServiceProvider({ metadata: xml, wantMessageSigned: signResponse });
    // The brief of this IdP: the Assertion is always signed, whatever the SP's
    // metadata says (a Response-only signature is opt-in with --sign-response).
    sp.entityMeta.isWantAssertionsSigned = () => true;
    const entityId = sp.entityMeta.getEntityID();
    sps.set(entityId, sp);
    return { entity_id: entityId, acs: sp.entityMeta.getAssertionConsumerService('post') };
  }

  async function startLogin(req, res, url) {
    const query = rawQuery(url.search);
    if (!query.SAMLRequest) return send(res, 400, page('Bad request', '<p id="error">No SAMLRequest.</p>'));
    const [anySp] = sps.values();
    if (!anySp) return send(res, 400, page('Unknown service provider', '<p id="error">No service provider is registered.</p>'));
    // Parse once to read the Issuer (signatures are not required here), then
    // use the SP that issuer names.
    let parsed;
    try {
      parsed = await idp.parseLoginRequest(anySp, 'redirect', { query, octetString: '' });
    } catch (err) {
      log.push({ event: 'bad_request', error: String(err) });
      return send(res, 400, page('Bad request', `<p id="error">${esc(err)}</p>`));
    }
    const issuer = parsed.extract.issuer;
    const sp = sps.get(issuer);
    if (!sp) {
      log.push({ event: 'unknown_sp', issuer });
      return send(res, 400, page('Unknown service provider', `<p id="error">${esc(issuer)} is not registered.</p>`));
    }
    const acs = sp.entityMeta.getAssertionConsumerService('post');
    const asked = parsed.extract.request?.assertionConsumerServiceUrl;
    if (asked && asked !== acs) {
      log.push({ event: 'acs_mismatch', asked, acs });
      return send(res, 400, page('Bad request', `<p id="error">ACS ${esc(asked)} is not in the SP's metadata.</p>`));
    }
    const uid = randomUUID();
    const relayState = query.RelayState !== undefined ? decodeURIComponent(query.RelayState.replace(/\+/g, ' ')) : undefined;
    pending.set(uid, { sp, parsed, relayState, acs, expires: Date.now() + 10 * 60 * 1000 });
    log.push({ event: 'authn_request', issuer, id: parsed.extract.request?.id, relay_state: relayState });
    res.writeHead(303, { location: `/login/${uid}` }).end();
  }

  function loginForm(res, uid, error) {
    return send(res, error ? 401 : 200, page('Sign in to the test SAML IdP',
      (error ? `<p id="error">${esc(error)}</p>` : '') +
      `<form method="post" action="/login/${esc(uid)}" autocomplete="off">` +
      '<label>Username <input name="username" autofocus></label> ' +
      '<label>Password <input name="password" type="password"></label> ' +
      '<button type="submit">Sign in</button></form>'));
  }

  async function finishLogin(req, res, uid) {
    const p = pending.get(uid);
    if (!p || p.expires < Date.now()) return send(res, 400, page('Expired', '<p id="error">Start again at the application.</p>'));
    const form = new URLSearchParams(await readBody(req));
    const account = byUsername.get(form.get('username') ?? '');
    if (!account || (account.password !== undefined && account.password !== form.get('password'))) {
      return loginForm(res, uid, 'Unknown user or wrong password.');
    }
    pending.delete(uid);
    const audience = p.sp.entityMeta.getEntityID();
    const response = await idp.createLoginResponse(p.sp, p.parsed, 'post', { email: account.email }, {
      relayState: p.relayState,
      customTagReplacement: () => {
        const id = `_${randomUUID()}`;
        return {
          id,
          context: responseXml({
            id,
            assertionId: `_${randomUUID()}`,
            issuer: idp.entityMeta.getEntityID(),
            destination: p.acs,
            inResponseTo: p.parsed.extract.request?.id,
            audience,
            account,
            lifetimeSecs,
          }),
        };
      },
    });
    log.push({ event: 'response', username: account.username, acs: p.acs, relay_state: p.relayState });
    const relay = p.relayState !== undefined ? `<input type="hidden" name="RelayState" value="${esc(p.relayState)}">` : '';
    return send(res, 200, page('Signing you in',
      `<form id="saml" method="post" action="${esc(response.entityEndpoint)}">` +
      `<input type="hidden" name="SAMLResponse" value="${esc(response.context)}">${relay}` +
      '<noscript><button type="submit">Continue</button></noscript></form>' +
      '<script>document.getElementById("saml").submit()</script>'));
  }

  server.on('request', async (req, res) => {
    try {
      const url = new URL(req.url, base);
      if (url.pathname === '/metadata' && req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' });
        res.end(idp.getMetadata());
        return;
      }
      if (url.pathname === '/_admin/sps' && req.method === 'POST') {
        if (req.headers.authorization !== `Bearer ${adminToken}`) {
          res.writeHead(401).end();
          return;
        }
        const out = await addSp(JSON.parse((await readBody(req)) || '{}'));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
        return;
      }
      if (url.pathname === '/_admin/log' && req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(log));
        return;
      }
      if (url.pathname === '/sso' && req.method === 'GET') return await startLogin(req, res, url);
      const m = url.pathname.match(/^\/login\/([0-9a-f-]{36})$/);
      if (m && req.method === 'GET') {
        return pending.has(m[1]) ? loginForm(res, m[1]) : send(res, 400, page('Expired', '<p id="error">Start again at the application.</p>'));
      }
      if (m && req.method === 'POST') return await finishLogin(req, res, m[1]);
      send(res, 404, page('Not found', ''));
    } catch (err) {
      console.error('saml-idp', err);
      if (!res.headersSent) send(res, 500, page('IdP error', `<pre id="error">${esc(err.message ?? err)}</pre>`));
      else res.end();
    }
  });

  return {
    base,
    port: actualPort,
    metadataUrl: `${base}/metadata`,
    entityId: idp.entityMeta.getEntityID(),
    cert,
    adminToken,
    addSp,
    log,
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
    : JSON.parse(process.env.SAML_IDP_ACCOUNTS || '[]');
  const idp = await startSamlIdp({
    port: Number(arg('--port') || 0),
    accounts,
    signResponse: process.argv.includes('--sign-response'),
    adminToken: process.env.SAML_IDP_ADMIN_TOKEN || undefined,
  });
  process.stdout.write(`${JSON.stringify({ ready: true, base: idp.base, port: idp.port, metadata_url: idp.metadataUrl, admin_token: idp.adminToken })}\n`);
  const stop = () => idp.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
