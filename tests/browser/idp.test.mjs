// The loopback test IdPs on their own (no gateway): the OIDC provider's
// discovery, JWKS, login + consent pages in Chromium, and a code + PKCE
// exchange and userinfo call by a stand-in relying party; the SAML IdP's
// metadata, an AuthnRequest over HTTP-Redirect from a stand-in SP, its login
// page in Chromium, and the signed Response it posts to the ACS with the
// RelayState. The gateway-facing flows are in sso.test.mjs.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, createPublicKey, verify as verifySig } from 'node:crypto';
import { createServer } from 'node:http';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as samlify from 'samlify';
import * as xmllint from '@authenio/samlify-node-xmllint';
import { spawnReady, stopChildren, launchChromium, until } from './lib/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
samlify.setSchemaValidator(xmllint);
after(stopChildren);

/** A loopback HTTP server that records requests and answers 200. */
async function catcher(handler) {
  const seen = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const entry = { method: req.method, url: req.url, body: Buffer.concat(chunks).toString('utf8') };
    seen.push(entry);
    if (handler && (await handler(req, res, entry))) return;
    res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>caught</h1>');
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { base: `http://127.0.0.1:${server.address().port}`, seen, close: () => server.close() };
}

const b64url = (buf) => buf.toString('base64url');

test('OIDC IdP: discovery, JWKS, login + consent in Chromium, code + PKCE, userinfo', async () => {
  const accounts = [{
    id: 'sub-ada-1', username: 'ada', password: 'pw-ada', email: 'ada@example.com', email_verified: true,
    given_name: 'Ada', family_name: 'Lovelace', groups: ['analysts'],
  }];
  const { info } = await spawnReady('node', [join(here, 'idp', 'oidc-idp.mjs')], {
    env: { ...process.env, OIDC_IDP_ACCOUNTS: JSON.stringify(accounts) },
  });
  const issuer = info.issuer;
  const disco = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  assert.equal(disco.issuer, issuer);
  assert.deepEqual(disco.code_challenge_methods_supported, ['S256']);
  assert.ok(disco.id_token_signing_alg_values_supported.includes('RS256'));
  const jwks = await (await fetch(disco.jwks_uri)).json();
  assert.equal(jwks.keys.length, 1);
  assert.equal(jwks.keys[0].kty, 'RSA');
  assert.equal(jwks.keys[0].alg, 'RS256');
  assert.ok(!('d' in jwks.keys[0]), 'no private parts in the JWKS');

  const rp = await catcher();
  const redirectUri = `${rp.base}/sso/oidc/conn-1/callback`;
  const secret = randomBytes(24).toString('hex');
  const reg = await fetch(`${issuer}/_admin/clients`, {
    method: 'POST',
    headers: { authorization: `Bearer ${info.admin_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: 'rollcall-test', client_secret: secret, redirect_uris: [redirectUri] }),
  });
  assert.equal(reg.status, 204);
  const unauth = await fetch(`${issuer}/_admin/clients`, { method: 'POST', body: '{}' });
  assert.equal(unauth.status, 401);

  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const state = b64url(randomBytes(16));
  const nonce = b64url(randomBytes(16));
  const auth = new URL(disco.authorization_endpoint);
  for (const [k, v] of Object.entries({
    client_id: 'rollcall-test', response_type: 'code', scope: 'openid email profile', redirect_uri: redirectUri,
    state, nonce, code_challenge: challenge, code_challenge_method: 'S256',
  })) auth.searchParams.set(k, v);

  const browser = await launchChromium();
  let callback;
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(auth.href);
    await page.getByLabel('Username').fill('ada');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.match(await page.locator('#error').textContent(), /wrong password/);
    await page.getByRole('link', { name: 'Try again' }).click();
    await page.getByLabel('Username').fill('ada');
    await page.getByLabel('Password').fill('pw-ada');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((u) => u.href.startsWith(redirectUri));
    callback = new URL(page.url());
  } finally {
    await browser.close();
  }
  assert.equal(callback.searchParams.get('state'), state);
  assert.equal(callback.searchParams.get('iss'), issuer, 'RFC 9207 iss parameter');
  const code = callback.searchParams.get('code');
  assert.ok(code);

  const basic = Buffer.from(`rollcall-test:${secret}`).toString('base64');
  const tokenAt = (body) => fetch(disco.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body),
  });
  const tok = await tokenAt({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier });
  assert.equal(tok.status, 200, await tok.clone().text());
  const tokens = await tok.json();
  const [h, p, s] = tokens.id_token.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  assert.equal(header.alg, 'RS256');
  assert.equal(header.kid, jwks.keys[0].kid);
  const key = createPublicKey({ key: jwks.keys[0], format: 'jwk' });
  assert.ok(verifySig('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url')), 'ID token signature');
  assert.equal(claims.iss, issuer);
  assert.equal(claims.aud, 'rollcall-test');
  assert.equal(claims.nonce, nonce);
  assert.equal(claims.sub, 'sub-ada-1');

  const ui = await (await fetch(disco.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json();
  assert.deepEqual(ui, {
    sub: 'sub-ada-1', email: 'ada@example.com', email_verified: true, name: 'Ada Lovelace',
    given_name: 'Ada', family_name: 'Lovelace', groups: ['analysts'],
  });

  // The code is single use.
  const again = await tokenAt({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier });
  assert.equal(again.status, 400);
  rp.close();
});

test('SAML IdP: metadata, AuthnRequest over HTTP-Redirect, login in Chromium, signed Response posted to the ACS', async () => {
  const accounts = [{
    id: 'nameid-bob-7f3a', username: 'bob', password: 'pw-bob', email: 'bob@example.com',
    given_name: 'Bob', surname: 'Builder', groups: ['engineering', 'staff'],
  }];
  const { info } = await spawnReady('node', [join(here, 'idp', 'saml-idp.mjs')], {
    env: { ...process.env, SAML_IDP_ACCOUNTS: JSON.stringify(accounts) },
  });
  const idpMetadata = await (await fetch(info.metadata_url)).text();
  assert.match(idpMetadata, /<(\w+:)?IDPSSODescriptor/);
  assert.match(idpMetadata, /urn:oasis:names:tc:SAML:2\.0:bindings:HTTP-Redirect/);
  assert.match(idpMetadata, /<(\w+:)?KeyDescriptor use="signing"/);
  assert.match(idpMetadata, /<(\w+:)?X509Certificate>MII/);
  assert.match(idpMetadata, /nameid-format:persistent/);

  // A stand-in SP whose entity id is its metadata URL, as the gateway's is.
  const spServer = await catcher(async (req, res) => {
    if (req.url === '/sso/saml/conn-2/metadata') {
      res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }).end(sp.getMetadata());
      return true;
    }
    return false;
  });
  const spBase = spServer.base;
  const acs = `${spBase}/sso/saml/conn-2/acs`;
  const sp = samlify.ServiceProvider({
    entityID: `${spBase}/sso/saml/conn-2/metadata`,
    assertionConsumerService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: acs }],
    wantAssertionsSigned: true,
    authnRequestsSigned: false,
  });
  const reg = await fetch(`${info.base}/_admin/sps`, {
    method: 'POST',
    headers: { authorization: `Bearer ${info.admin_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ metadata_url: `${spBase}/sso/saml/conn-2/metadata` }),
  });
  assert.equal(reg.status, 200);
  assert.deepEqual(await reg.json(), { entity_id: `${spBase}/sso/saml/conn-2/metadata`, acs });

  const idpEntity = samlify.IdentityProvider({ metadata: idpMetadata });
  const { id: requestId, context: loginUrl } = sp.createLoginRequest(idpEntity, 'redirect');
  const relayState = 'rs-' + randomBytes(8).toString('hex');
  const start = `${loginUrl}&RelayState=${encodeURIComponent(relayState)}`;

  const browser = await launchChromium();
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(start);
    await page.getByLabel('Username').fill('bob');
    await page.getByLabel('Password').fill('pw-bob');
    await Promise.all([
      page.waitForURL(acs),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
  } finally {
    await browser.close();
  }
  const post = await until('the ACS POST', () => spServer.seen.find((e) => e.method === 'POST' && e.url === '/sso/saml/conn-2/acs'));
  const form = new URLSearchParams(post.body);
  assert.equal(form.get('RelayState'), relayState);
  const xml = Buffer.from(form.get('SAMLResponse'), 'base64').toString('utf8');
  assert.match(xml, new RegExp(`Destination="${acs}"`));
  assert.match(xml, new RegExp(`InResponseTo="${requestId}"`));
  assert.match(xml, /<saml:NameID Format="urn:oasis:names:tc:SAML:2\.0:nameid-format:persistent">nameid-bob-7f3a</);
  assert.match(xml, new RegExp(`<saml:Audience>${spBase}/sso/saml/conn-2/metadata</saml:Audience>`));
  assert.match(xml, new RegExp(`Recipient="${acs}"`));
  assert.match(xml, /<saml:Attribute Name="groups"[^>]*><saml:AttributeValue[^>]*>engineering<\/saml:AttributeValue><saml:AttributeValue[^>]*>staff</);
  assert.match(xml, /<saml:Attribute Name="email"[^>]*><saml:AttributeValue[^>]*>bob@example\.com</);
  // Exactly one signature, inside the Assertion, right after its Issuer, RSA-SHA256 over SHA-256.
  assert.equal(xml.match(/<ds:Signature /g)?.length, 1);
  assert.match(xml, /<saml:Assertion [^>]*><saml:Issuer>[^<]+<\/saml:Issuer><ds:Signature /);
  assert.match(xml, /SignatureMethod Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmldsig-more#rsa-sha256"/);
  assert.match(xml, /DigestMethod Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmlenc#sha256"/);
  // The SP library accepts it (a smoke check only: samlify is no reference verifier).
  const parsed = await sp.parseLoginResponse(idpEntity, 'post', { body: { SAMLResponse: form.get('SAMLResponse') } });
  assert.equal(parsed.extract.nameID, 'nameid-bob-7f3a');
  assert.deepEqual(parsed.extract.attributes.groups, ['engineering', 'staff']);
  spServer.close();
});
