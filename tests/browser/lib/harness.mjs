// Helpers shared by the browser tests: free ports, polling, child processes
// that announce readiness with one JSON line, the SMTP sink, and Debian's
// chromium through playwright-core (no browser download).

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function until(what, fn, limitMs = 30000) {
  const started = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - started > limitMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Kills every child registered here (call from `after`). */
export const children = [];
export function stopChildren() {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  }
}

/** Spawns `node script args…` and resolves with the JSON object of its first stdout line. */
export function spawnReady(command, args, opts = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  children.push(child);
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
    if (process.env.E2E_VERBOSE) process.stderr.write(d);
  });
  return new Promise((ok, fail) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        try {
          ok({ child, info: JSON.parse(out.slice(0, nl)), stderr: () => err });
        } catch (e) {
          fail(new Error(`${command} ${args.join(' ')}: ${out.slice(0, nl)}`));
        }
      }
    });
    child.once('exit', (code) => fail(new Error(`${command} ${args.join(' ')} exited (${code}): ${err}`)));
  });
}

export async function startSmtpSink(root, port, maildir) {
  const sink = spawn('python3', [join(root, 'tests', 'support', 'smtp_sink.py'), String(port), maildir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(sink);
  await new Promise((ok, fail) => {
    sink.stdout.once('data', (d) => (String(d).includes('ready') ? ok() : fail(new Error(String(d)))));
    sink.once('exit', (code) => fail(new Error(`the SMTP sink exited (${code}); is python aiosmtpd installed?`)));
  });
  return sink;
}

export function mails(dir) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.eml'))
    .sort()
    .map((n) => readFileSync(join(dir, n), 'utf8'));
}

export function linkIn(mail, prefix) {
  const text = mail.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
  const at = text.indexOf(prefix);
  if (at < 0) return null;
  return text.slice(at).match(/^[^\s"<]+/)[0];
}

export async function launchChromium() {
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  // playwright's launch() gives every run a fresh throwaway profile.
  return chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
