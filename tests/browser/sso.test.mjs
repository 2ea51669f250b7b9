// Single sign-on end to end (issue 11, "Done means"): the gateway binary,
// real IdP software on loopback — npm oidc-provider (idp/oidc-idp.mjs) and a
// samlify SAML IdP (idp/saml-idp.mjs) — the SMTP sink, and Debian's chromium
// driven by playwright-core (no browser download).
//
//   a. invite-first via OIDC: the invite mail's link, "Continue with single
//      sign-on", the IdP's login page, back signed in as Data Manager of
//      workspaces A and B;
//   b. SSO-default via SAML: /sso/start?email=…, the IdP's login page, the
//      first-login workspace picker, View Manager of the picked workspace;
//   c. refused logins (an unverified OIDC email, a SAML user from a domain
//      that is not allowed): a 403 page that says why, nothing created;
//   d. SCIM deactivation of (a)'s user ends the browser's session at once.
//
// Two orgs on one gateway: acme (example.com, OIDC) and globex (example.net,
// SAML), so home-realm discovery has exactly one connection per domain.
// Run from .ci/run after `cargo build --bin rollcall` (ROLLCALL_BIN overrides).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import {
  freePort, until, children, stopChildren, spawnReady, startSmtpSink, mails, linkIn, launchChromium,
} from './lib/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const bin = process.env.ROLLCALL_BIN || join(root, 'target', 'debug', 'rollcall');
const work = mkdtempSync(join(tmpdir(), 'rollcall-sso-'));

// Connections are made with `rollcall idp add-oidc|add-saml --json` (issue 11
// item 1), which also prints what to register at the IdP.

const OIDC_ACCOUNTS = [
  { id: 'oidc-sub-ada-0001', username: 'ada', password: 'ada-pw', email: 'ada@example.com', email_verified: true, given_name: 'Ada', family_name: 'Lovelace', groups: ['analysts'] },
  { id: 'oidc-sub-carol-0002', username: 'carol', password: 'carol-pw', email: 'carol@example.com', email_verified: false, given_name: 'Carol', family_name: 'Unverified', groups: [] },
];
const SAML_ACCOUNTS = [
  { id: 'saml-persistent-bob-7f3a9c', username: 'bob', password: 'bob-pw', email: 'bob@example.net', given_name: 'Bob', surname: 'Builder', groups: ['engineering'] },
  { id: 'saml-persistent-dave-21be04', username: 'dave', password: 'dave-pw', email: 'dave@elsewhere.test', given_name: 'Dave', surname: 'Outsider', groups: [] },
];

const g = {}; // shared state: base, env, keys, connections, the IdPs, the browser
let browser;

after(async () => {
  if (browser) await browser.close().catch(() => {});
  stopChildren();
  rmSync(work, { recursive: true, force: true });
});

const cli = (...args) => execFileSync(bin, args, { cwd: work, env: g.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

async function api(org, method, path, body) {
  const r = await fetch(`${g.base}/api/v1/orgs/${org}${path}`, {
    method,
    headers: { authorization: `Bearer ${g.keys[org]}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function users(org) {
  return (await api(org, 'GET', '/users?limit=200')).items;
}

async function userByEmail(org, email) {
  return (await users(org)).find((u) => u.email === email);
}

/** The org-level role keys and the visible workspaces of a user. */
async function accessOf(org, userId) {
  const a = await api(org, 'GET', `/users/${userId}/access`);
  return {
    status: a.status,
    roles: a.bindings.map((b) => `${b.role}@${b.scope?.kind === 'org' ? 'org' : b.scope?.workspace ?? JSON.stringify(b.scope)}`).sort(),
    all: a.workspaces.all,
    visible: [...a.workspaces.visible].sort(),
    raw: a,
  };
}

function claimAndVerify(org, domain) {
  cli('domain', 'claim', '--org', org, domain);
  const line = cli('domain', 'list', '--org', org).split('\n').find((l) => l.startsWith(`${domain}\t`));
  const value = line.match(/"([^"]+)"$/)[1];
  const fixture = JSON.parse(readFileSync(g.txtFixture, 'utf8'));
  fixture[`_rollcall-challenge.${domain}`] = [value];
  writeFileSync(g.txtFixture, JSON.stringify(fixture));
  assert.match(cli('domain', 'verify', '--org', org, domain), new RegExp(`^${domain.replace('.', '\\.')}\\tverified`));
}

function idpJson(out) {
  // `--json` prints the connection view (id, kind, …, setup).
  const start = out.indexOf('{');
  return JSON.parse(out.slice(start));
}

async function newPage() {
  const context = await browser.newContext();
  return { context, page: await context.newPage() };
}

async function fillLogin(page, username, password) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState();
}

/** OIDC IdP: sign in, allow on the consent page when it is shown. */
async function oidcLogin(page, username, password) {
  await page.waitForURL((u) => u.href.startsWith(`${g.oidc.issuer}/interaction/`));
  await fillLogin(page, username, password);
  if (page.url().startsWith(`${g.oidc.issuer}/interaction/`)) {
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForLoadState();
  }
}

/** Waits for the gateway's answer to the IdP's return (callback or ACS), not a redirect. */
function gatewaySsoAnswer(page) {
  return page.waitForResponse((r) => r.url().startsWith(`${g.base}/sso/`) && r.request().isNavigationRequest()
    && r.status() !== 302 && r.status() !== 303);
}

/**
 * GET /api/v1/me as the browser sends it, with the context's cookies: a
 * top-level navigation in a new tab (the gateway's pages allow no fetch()
 * under their CSP, default-src 'none').
 */
async function me(page) {
  const tab = await page.context().newPage();
  try {
    const r = await tab.goto(`${g.base}/api/v1/me`);
    const text = await r.text();
    return { status: r.status(), body: r.status() === 200 ? JSON.parse(text) : text };
  } finally {
    await tab.close();
  }
}

before(async () => {
  const smtpPort = await freePort();
  const port = await freePort();
  g.base = `http://127.0.0.1:${port}`;
  g.maildir = join(work, 'mail');
  g.txtFixture = join(work, 'txt.json');
  writeFileSync(g.txtFixture, '{}');
  g.env = {
    ...process.env,
    DATABASE_URL: `sqlite://${join(work, 'rollcall.db')}`,
    ROLLCALL__LOG__LEVEL: 'warn',
    ROLLCALL__SERVER__PORT: String(port),
    ROLLCALL__SERVER__PUBLIC_URL: g.base,
    ROLLCALL__EMAIL__TRANSPORT: 'smtp',
    ROLLCALL__EMAIL__FROM: 'rollcall@example.org',
    ROLLCALL__EMAIL__OUTBOX_KEY: 'sso-test-outbox-key-0123456789abcdef0123',
    ROLLCALL__EMAIL__SMTP__HOST: '127.0.0.1',
    ROLLCALL__EMAIL__SMTP__PORT: String(smtpPort),
    ROLLCALL__EMAIL__SMTP__TLS: 'none',
    ROLLCALL__EMAIL__OUTBOX__POLL_INTERVAL_MS: '100',
    ROLLCALL__SSO__SECRET_KEY: 'sso-test-secret-key-0123456789abcdef0123',
    ROLLCALL__SSO__ALLOW_PRIVATE_NETWORKS: 'true',
    ROLLCALL__SSO__ALLOW_PLAIN_HTTP: 'true',
    ROLLCALL__SSO__DOMAIN_TXT_FIXTURE_FILE: g.txtFixture,
    OIDC_CLIENT_SECRET: randomBytes(24).toString('hex'),
  };
  delete g.env.ROLLCALL_ENV;

  const [, oidc, saml] = await Promise.all([
    startSmtpSink(root, smtpPort, g.maildir),
    spawnReady('node', [join(here, 'idp', 'oidc-idp.mjs')], { env: { ...process.env, OIDC_IDP_ACCOUNTS: JSON.stringify(OIDC_ACCOUNTS) } }),
    spawnReady('node', [join(here, 'idp', 'saml-idp.mjs')], { env: { ...process.env, SAML_IDP_ACCOUNTS: JSON.stringify(SAML_ACCOUNTS) } }),
  ]);
  g.oidc = oidc.info;
  g.saml = saml.info;

  // acme: example.com, workspaces A and B, an OIDC connection; invites.
  cli('org', 'create', 'acme', '--name', 'Acme Research');
  cli('workspace', 'create', '--org', 'acme', 'alpha', '--name', 'Workspace A');
  cli('workspace', 'create', '--org', 'acme', 'beta', '--name', 'Workspace B');
  cli('workspace', 'create', '--org', 'acme', 'gamma', '--name', 'Workspace C');
  claimAndVerify('acme', 'example.com');
  const oidcConn = idpJson(cli('idp', 'add-oidc', '--org', 'acme', '--name', 'Test OIDC IdP',
      '--issuer', g.oidc.issuer, '--client-id', 'rollcall-acme', '--client-secret-env', 'OIDC_CLIENT_SECRET',
      '--trusted-domain', 'example.com', '--json'));
  g.oidcConn = oidcConn;
  // What `idp add-oidc` says to register at the IdP.
  g.redirectUri = oidcConn.setup.redirect_uri;
  assert.equal(g.redirectUri, `${g.base}/sso/oidc/${oidcConn.id}/callback`);
  const reg = await fetch(`${g.oidc.issuer}/_admin/clients`, {
    method: 'POST',
    headers: { authorization: `Bearer ${g.oidc.admin_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: 'rollcall-acme', client_secret: g.env.OIDC_CLIENT_SECRET, redirect_uris: [g.redirectUri] }),
  });
  assert.equal(reg.status, 204, await reg.text());
  assert.match(cli('invite', '--org', 'acme', '--email', 'ada@example.com', '--name', 'Ada Lovelace',
    '--role', 'Data Manager', '--workspace', 'alpha', '--workspace', 'beta'), /^invited\tada@example.com/);
  // The same invite for a twin who accepts with the invite page's button
  // (a domain no connection is trusted for, so the page offers the button):
  // what SSO acceptance must give ada (role and workspaces from the invite).
  assert.match(cli('invite', '--org', 'acme', '--email', 'twin@twin.example.org', '--name', 'Ada Twin',
    '--role', 'Data Manager', '--workspace', 'alpha', '--workspace', 'beta'), /^invited\ttwin@twin.example.org/);
  assert.match(cli('invite', '--org', 'acme', '--email', 'carol@example.com', '--name', 'Carol',
    '--role', 'Read Only', '--workspace', 'alpha'), /^invited\tcarol@example.com/);
  const [scimPath, scimToken] = cli('directory', 'create', '--org', 'acme', '--name', 'HR directory').trim().split('\n');
  g.scim = { base: `${g.base}${scimPath}`, token: scimToken };

  // globex: example.net, two workspaces, a SAML connection from the IdP's metadata URL.
  cli('org', 'create', 'globex', '--name', 'Globex');
  cli('workspace', 'create', '--org', 'globex', 'north', '--name', 'North Office');
  cli('workspace', 'create', '--org', 'globex', 'south', '--name', 'South Office');
  claimAndVerify('globex', 'example.net');
  const samlConn = idpJson(cli('idp', 'add-saml', '--org', 'globex', '--name', 'Test SAML IdP',
      '--metadata-url', g.saml.metadata_url, '--trusted-domain', 'example.net',
      '--email-attribute', 'email', '--given-name-attribute', 'givenName', '--family-name-attribute', 'surname',
      '--groups-attribute', 'groups', '--json'));
  g.samlConn = samlConn;
  // What `idp add-saml` says to enter at the IdP: the SP metadata URL (also our entity id) and the ACS.
  g.spMetadataUrl = samlConn.setup.metadata_url;
  assert.equal(g.spMetadataUrl, `${g.base}/sso/saml/${samlConn.id}/metadata`);
  assert.equal(samlConn.setup.acs_url, `${g.base}/sso/saml/${samlConn.id}/acs`);

  g.keys = {
    acme: cli('api-key', 'create', '--org', 'acme', '--name', 'sso-e2e').trim(),
    globex: cli('api-key', 'create', '--org', 'globex', '--name', 'sso-e2e').trim(),
  };

  const server = spawn(bin, ['serve'], { cwd: work, env: g.env, stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(server);
  await until('the gateway', async () => {
    try {
      return (await fetch(`${g.base}/healthz`)).ok;
    } catch {
      return false;
    }
  });

  // SSO-default for globex: example.net users sign up and pick their workspace.
  const settings = await api('globex', 'GET', '/settings');
  settings.provisioning.sso_default = true;
  settings.allowed_email_domains = ['example.net'];
  settings.workspace_self_select = true;
  await api('globex', 'PUT', '/settings', settings);

  // The SAML IdP imports the gateway's SP metadata (entity id, ACS).
  const sp = await fetch(`${g.saml.base}/_admin/sps`, {
    method: 'POST',
    headers: { authorization: `Bearer ${g.saml.admin_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ metadata_url: g.spMetadataUrl }),
  });
  const spText = await sp.text();
  assert.equal(sp.status, 200, spText);
  g.sp = JSON.parse(spText);
  assert.equal(g.sp.entity_id, g.spMetadataUrl);
  assert.equal(g.sp.acs, `${g.base}/sso/saml/${samlConn.id}/acs`);

  browser = await launchChromium();
});

test('a. invite-first via OIDC: the invite link, single sign-on at the IdP, signed in as Data Manager of A and B', async () => {
  const mail = await until('the invite mail', () => mails(g.maildir).find((m) => /ada@example\.com/.test(m)));
  const link = linkIn(mail, `${g.base}/invite/`);
  assert.ok(link, mail);

  const { page } = await newPage();
  g.adaPage = page;
  const landing = await page.goto(link);
  assert.equal(landing.status(), 200);
  const sso = page.getByRole('link', { name: /continue with single sign-on/i })
    .or(page.getByRole('button', { name: /continue with single sign-on/i }));
  await sso.click();
  await oidcLogin(page, 'ada', 'ada-pw');
  await page.waitForURL(`${g.base}/account`);
  assert.match(await page.locator('#signed-in').textContent(), /ada@example\.com/);

  const who = await me(page);
  assert.equal(who.status, 200, who.body);
  assert.equal(who.body.email, 'ada@example.com');
  assert.equal(who.body.org, 'acme');
  assert.equal(who.body.access.status, 'active');

  const ada = await userByEmail('acme', 'ada@example.com');
  assert.equal(ada.status, 'active');
  const access = await accessOf('acme', ada.id);
  assert.equal(access.status, 'active');
  // Exactly one role: Data Manager, org-wide, from the invite.
  assert.deepEqual(access.raw.bindings.map((b) => [b.role, b.scope.kind, b.source]), [['data_manager', 'org', 'invite']]);
  // Data Manager's workspace visibility is `yes` (SPEC §2, seed 003): it sees
  // every workspace whatever the invite's list; A and B are among them.
  assert.equal(access.all, true, access.raw.workspaces.reason);
  assert.deepEqual(access.visible, ['alpha', 'beta', 'gamma']);
  assert.deepEqual([...who.body.access.workspaces.visible].sort(), ['alpha', 'beta', 'gamma']);

  // The oracle: the same invite accepted with the invite page's button gives
  // the same access (role, scope, source, workspace answer, permissions).
  const twinMail = await until('the twin invite mail', () => mails(g.maildir).find((m) => /twin@twin\.example\.org/.test(m)));
  const twinLink = linkIn(twinMail, `${g.base}/invite/`);
  const { page: twinPage, context: twinContext } = await newPage();
  await twinPage.goto(twinLink);
  await Promise.all([twinPage.waitForURL(`${g.base}/account`), twinPage.getByRole('button', { name: 'Accept invitation' }).click()]);
  await twinContext.close();
  const twin = await accessOf('acme', (await userByEmail('acme', 'twin@twin.example.org')).id);
  const shape = (a) => ({
    status: a.raw.status,
    bindings: a.raw.bindings.map((b) => [b.role, JSON.stringify(b.scope), b.source]),
    overrides: a.raw.overrides.length,
    sets: a.raw.permission_sets,
    workspaces: { all: a.raw.workspaces.all, visible: a.visible, home: a.raw.workspaces.home },
    allowed: a.raw.permissions.filter((x) => x.allowed).map((x) => x.permission).sort(),
    anonymized: a.raw.anonymized,
  });
  assert.deepEqual(shape(access), shape(twin));
  g.ada = ada;

  // The invite is used up.
  const again = await page.goto(link);
  assert.equal(again.status(), 410);
});

test('b. SSO-default via SAML: /sso/start?email=…, the IdP, the workspace picker, View Manager of the picked workspace', async () => {
  const { page, context } = await newPage();
  await page.goto(`${g.base}/sso/start?email=${encodeURIComponent('bob@example.net')}`);
  await page.waitForURL((u) => u.href.startsWith(`${g.saml.base}/login/`));
  await page.getByLabel('Username').fill('bob');
  await page.getByLabel('Password').fill('bob-pw');
  await Promise.all([
    page.waitForURL((u) => u.href.startsWith(`${g.base}/sso/welcome`)),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
  const boxes = page.locator('input[type="checkbox"][name="workspace"]');
  assert.equal(await boxes.count(), 2, 'one checkbox per workspace of globex');
  const north = page.getByLabel(/North Office/);
  assert.equal(await north.getAttribute('name'), 'workspace');
  await north.check();
  await Promise.all([
    page.waitForURL(`${g.base}/account`),
    page.getByRole('button', { name: 'Continue' }).click(),
  ]);
  assert.match(await page.locator('#signed-in').textContent(), /bob@example\.net/);
  const session = (await context.cookies()).find((c) => c.name === '__Host-rollcall_session');
  assert.ok(session, 'the session cookie is set');

  const who = await me(page);
  assert.equal(who.status, 200, who.body);
  assert.equal(who.body.org, 'globex');
  assert.equal(who.body.email, 'bob@example.net');

  const bob = await userByEmail('globex', 'bob@example.net');
  assert.ok(bob, 'bob was created');
  assert.equal(bob.status, 'active');
  const access = await accessOf('globex', bob.id);
  assert.deepEqual(access.roles, ['view_manager@org'], JSON.stringify(access.raw.bindings));
  assert.equal(access.all, false);
  assert.deepEqual(access.visible, ['north']);
  await context.close();
});

test('c. refused logins: an unverified OIDC email, a SAML user from a domain that is not allowed — 403, nothing created', async () => {
  const acmeBefore = await users('acme');
  const globexBefore = await users('globex');

  // OIDC: carol is invited, but the IdP does not vouch for her email.
  {
    const { page, context } = await newPage();
    await page.goto(`${g.base}/sso/start?email=${encodeURIComponent('carol@example.com')}`);
    const answer = gatewaySsoAnswer(page);
    await oidcLogin(page, 'carol', 'carol-pw');
    const res = await answer;
    assert.equal(res.status(), 403);
    assert.equal((await page.locator('h1').textContent()).trim(), 'Sign-in refused');
    const text = await page.locator('body').innerText();
    assert.ok(text.replace('Sign-in refused', '').trim().length > 0, 'the page says why');
    assert.match(text, /verif/i, text);
    assert.equal((await me(page)).status, 401);
    assert.equal((await context.cookies()).find((c) => c.name === '__Host-rollcall_session'), undefined);
    await context.close();
  }

  // SAML: dave's email domain is not among globex's allowed domains.
  {
    const { page, context } = await newPage();
    await page.goto(`${g.base}/sso/globex/start?connection=${encodeURIComponent(g.samlConn.id)}`);
    await page.waitForURL((u) => u.href.startsWith(`${g.saml.base}/login/`));
    const answer = gatewaySsoAnswer(page);
    await page.getByLabel('Username').fill('dave');
    await page.getByLabel('Password').fill('dave-pw');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const res = await answer;
    assert.equal(res.status(), 403);
    assert.equal((await page.locator('h1').textContent()).trim(), 'Sign-in refused');
    const text = await page.locator('body').innerText();
    assert.ok(text.replace('Sign-in refused', '').trim().length > 0, 'the page says why');
    assert.equal((await me(page)).status, 401);
    await context.close();
  }

  const acmeAfter = await users('acme');
  const globexAfter = await users('globex');
  assert.deepEqual(acmeAfter.map((u) => [u.id, u.status]).sort(), acmeBefore.map((u) => [u.id, u.status]).sort());
  assert.deepEqual(globexAfter.map((u) => [u.id, u.status]).sort(), globexBefore.map((u) => [u.id, u.status]).sort());
  assert.equal((await userByEmail('acme', 'carol@example.com')).status, 'invited');
  assert.equal(globexAfter.find((u) => u.email === 'dave@elsewhere.test'), undefined);
});

test('d. a user deactivated by SCIM is signed out at once', async () => {
  assert.ok(g.adaPage && g.ada, 'needs test a');
  const page = g.adaPage;
  await page.goto(`${g.base}/account`);
  assert.equal((await me(page)).status, 200);

  const scim = (method, path, body) => fetch(`${g.scim.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${g.scim.token}`, 'content-type': 'application/scim+json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  // The directory takes over the user the invite made (adoption by userName / email).
  const created = await scim('POST', '/Users', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName: 'ada@example.com',
    name: { givenName: 'Ada', familyName: 'Lovelace' },
    emails: [{ value: 'ada@example.com', type: 'work', primary: true }],
    active: true,
  });
  assert.ok([200, 201].includes(created.status), await created.clone().text());
  const scimUser = await created.json();
  assert.equal(scimUser.id, g.ada.id);
  assert.equal((await me(page)).status, 200, 'adoption keeps the session');

  const patched = await scim('PATCH', `/Users/${scimUser.id}`, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'replace', path: 'active', value: false }],
  });
  assert.ok([200, 204].includes(patched.status), await patched.clone().text());

  const after = await me(page);
  assert.equal(after.status, 401, JSON.stringify(after.body));
  assert.equal((await userByEmail('acme', 'ada@example.com')).status, 'suspended');
});
