// The invite pages in a real browser (Debian's chromium driven by
// playwright-core; no browser download): invite with the CLI, the gateway
// sends the mail to a real SMTP server on loopback (python aiosmtpd), the
// browser opens the link from that mail, accepts with the keyboard and lands
// signed in; then the emailed sign-in link does the same. Run from
// .ci/run after `cargo build --bin rollcall` (ROLLCALL_BIN overrides the
// binary's path).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const bin = process.env.ROLLCALL_BIN || join(root, 'target', 'debug', 'rollcall');
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
const work = mkdtempSync(join(tmpdir(), 'rollcall-browser-'));
const children = [];

after(() => {
  for (const c of children) {
    if (c.exitCode === null) c.kill('SIGTERM');
  }
  rmSync(work, { recursive: true, force: true });
});

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, limitMs = 30000) {
  const started = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - started > limitMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function mails(dir) {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.eml'))
    .sort()
    .map((n) => readFileSync(join(dir, n), 'utf8'));
}

function linkIn(mail, prefix) {
  const text = mail.replace(/=\r?\n/g, '');
  const at = text.indexOf(prefix);
  if (at < 0) return null;
  return text.slice(at).match(/^[^\s"<]+/)[0];
}

test('invite mail -> accept in the browser -> signed in; then an emailed sign-in link', async () => {
  const smtpPort = await freePort();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const maildir = join(work, 'mail');
  const env = {
    ...process.env,
    DATABASE_URL: `sqlite://${join(work, 'rollcall.db')}`,
    ROLLCALL__LOG__LEVEL: 'warn',
    ROLLCALL__SERVER__PORT: String(port),
    ROLLCALL__SERVER__PUBLIC_URL: base,
    ROLLCALL__EMAIL__TRANSPORT: 'smtp',
    ROLLCALL__EMAIL__FROM: 'rollcall@example.org',
    ROLLCALL__EMAIL__OUTBOX_KEY: 'browser-test-outbox-key-0123456789abcdef',
    ROLLCALL__EMAIL__SMTP__HOST: '127.0.0.1',
    ROLLCALL__EMAIL__SMTP__PORT: String(smtpPort),
    ROLLCALL__EMAIL__SMTP__TLS: 'none',
    ROLLCALL__EMAIL__OUTBOX__POLL_INTERVAL_MS: '100',
  };
  delete env.ROLLCALL_ENV;

  const sink = spawn('python3', [join(root, 'tests', 'support', 'smtp_sink.py'), String(smtpPort), maildir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(sink);
  await new Promise((ok, fail) => {
    sink.stdout.once('data', (d) => (String(d).includes('ready') ? ok() : fail(new Error(String(d)))));
    sink.once('exit', (code) => fail(new Error(`the SMTP sink exited (${code}); is python aiosmtpd installed?`)));
  });

  const cli = (...args) => execFileSync(bin, args, { cwd: work, env, encoding: 'utf8' });
  cli('org', 'create', 'acme', '--name', 'Acme Research');
  cli('workspace', 'create', '--org', 'acme', 'research', '--name', 'Research');
  const invited = cli('invite', '--org', 'acme', '--email', 'ada@example.com', '--name', 'Ada', '--role', 'Read Only', '--workspace', 'research');
  assert.match(invited, /^invited\tada@example.com/);

  // The invite was queued by the CLI; the server delivers it when it starts.
  const server = spawn(bin, ['serve'], { cwd: work, env, stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(server);
  await until('the gateway', async () => {
    try {
      return (await fetch(`${base}/healthz`)).ok;
    } catch {
      return false;
    }
  });
  const mail = (await until('the invite mail', () => mails(maildir)[0]));
  const link = linkIn(mail, `${base}/invite/`);
  assert.ok(link, mail);

  const browser = await chromium.launch({
    executablePath: browserPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const landing = await page.goto(link);
    assert.equal(landing.status(), 200);
    assert.equal(landing.headers()['referrer-policy'], 'no-referrer');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Join Acme Research');
    const details = await page.locator('dl').textContent();
    assert.match(details, /Read Only/);
    assert.match(details, /Research/);
    // Keyboard only: the button is reachable and named.
    const accept = page.getByRole('button', { name: 'Accept invitation' });
    await accept.focus();
    await Promise.all([page.waitForURL(`${base}/account`), page.keyboard.press('Enter')]);
    assert.match(await page.locator('#signed-in').textContent(), /signed in as ada@example.com/);
    const session = (await context.cookies()).find((c) => c.name === '__Host-rollcall_session');
    assert.ok(session, 'the session cookie is set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.secure, true);
    assert.equal(session.sameSite, 'Lax');
    assert.equal(session.path, '/');

    // The link works once.
    const again = await page.goto(link);
    assert.equal(again.status(), 410);
    assert.match(await page.locator('h1').textContent(), /already used/);

    // Sign out, then sign in with an emailed one-time link.
    await page.goto(`${base}/account`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForLoadState();
    assert.match(await page.locator('h1').textContent(), /signed out/);
    await page.goto(`${base}/o/acme/login/email`);
    await page.getByLabel('Email address').fill('ada@example.com');
    await page.getByRole('button', { name: 'Send sign-in link' }).click();
    await page.waitForLoadState();
    assert.match(await page.locator('h1').textContent(), /Check your email/);
    const loginMail = await until('the sign-in mail', () => mails(maildir)[1]);
    const loginLink = linkIn(loginMail, `${base}/o/acme/login/email/`);
    assert.ok(loginLink, loginMail);
    await page.goto(loginLink);
    await Promise.all([page.waitForURL(`${base}/account`), page.getByRole('button', { name: 'Sign in' }).click()]);
    assert.match(await page.locator('#signed-in').textContent(), /ada@example.com/);
    await context.close();
  } finally {
    await browser.close();
  }
  server.kill('SIGTERM');
  await new Promise((ok) => (server.exitCode !== null ? ok() : server.once('exit', ok)));
});
