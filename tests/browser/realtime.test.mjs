// contract.md, "Realtime", in a real browser: headless Chromium (Debian's `chromium`,
// driven by playwright-core) opens `new WebSocket(url, ["keygate", token])` to each of the
// platform's three binaries with a client token this test minted, and the echo arrives.
//
// Run by `.ci/run` after the cargo tests: `node --test tests/browser/` with
// KEYGATE_PLATFORM_BIN_DIR set to the folder holding `platform`, `platform-actix` and
// `platform-tower`. A missing Chromium fails the run.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.KEYGATE_CHROMIUM ?? "/usr/bin/chromium";
const BIN_DIR = process.env.KEYGATE_PLATFORM_BIN_DIR ?? join(import.meta.dirname, "../../target/debug");
const BINARIES = ["platform", "platform-actix", "platform-tower"];
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Starts `binary` on a fresh SQLite database and a free port; resolves with its base URL. */
function startPlatform(binary, dir, secret) {
  const child = spawn(join(BIN_DIR, binary), [], {
    env: {
      PATH: process.env.PATH,
      KEYGATE_ADDR: "127.0.0.1:0",
      KEYGATE_DATABASE_URL: `sqlite://${join(dir, "keygate.db")}`,
      KEYGATE_PEPPER: randomBytes(32).toString("base64url"),
      KEYGATE_ADMIN_SECRET: secret,
      RUST_LOG: "warn",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const listening = new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`${binary} did not start: ${seen}`)), 30_000);
    child.stdout.on("data", (chunk) => {
      seen += chunk;
      const found = seen.match(/listening on (http:\/\/[0-9.:]+)/);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${binary} exited with ${code}: ${seen}`));
    });
  });
  return { child, listening };
}

/** A tenant's `sk_` key and a client token it mints, over HTTP. */
async function mintClientToken(base, secret) {
  const created = await fetch(`${base}/api/v1/admin/keys`, {
    method: "POST",
    headers: { "x-client-secret": secret, "content-type": "application/json" },
    body: JSON.stringify({ kind: "secret", environment: "live", tenant: "acme" }),
  });
  assert.equal(created.status, 201, await created.clone().text());
  const { key } = await created.json();
  const minted = await fetch(`${base}/api/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ ttl_seconds: 600 }),
  });
  assert.equal(minted.status, 200, await minted.clone().text());
  const { apiKey } = await minted.json();
  assert.match(apiKey, /^ek_/);
  return apiKey;
}

/** In the page: opens the socket with `protocols`, sends `text`, resolves with what came back. */
function openAndEcho({ url, protocols, text }) {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, protocols);
    const timer = setTimeout(() => resolve({ error: "timeout" }), 10_000);
    socket.onopen = () => socket.send(text);
    socket.onmessage = (event) => {
      clearTimeout(timer);
      resolve({ data: event.data, protocol: socket.protocol });
      socket.close(1000);
    };
    socket.onclose = (event) => {
      clearTimeout(timer);
      resolve({ error: "closed", code: event.code });
    };
  });
}

test("chromium is installed", () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install -y chromium`);
});

for (const binary of BINARIES) {
  test(`${binary}: a browser WebSocket with a client token as subprotocol gets its echo`, async () => {
    assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}`);
    assert.ok(existsSync(join(BIN_DIR, binary)), `no ${binary} in ${BIN_DIR}: cargo build -p platform --bins`);
    const dir = mkdtempSync(join(tmpdir(), "keygate-browser-"));
    const secret = `browser-test-${randomBytes(24).toString("hex")}`;
    const server = startPlatform(binary, dir, secret);
    let context;
    try {
      const base = await server.listening;
      const token = await mintClientToken(base, secret);
      context = await chromium.launchPersistentContext(join(dir, "profile"), {
        executablePath: CHROMIUM,
        headless: true,
        args: ARGS,
      });
      const page = await context.newPage();
      // An http origin for the page, as a web app would have.
      const health = await page.goto(`${base}/healthz`);
      assert.equal(health?.status(), 200);
      const url = `${base.replace(/^http/, "ws")}/api/realtime`;

      const echoed = await page.evaluate(openAndEcho, {
        url,
        protocols: ["keygate", token],
        text: "hello from chromium",
      });
      assert.deepEqual(echoed, { data: "hello from chromium", protocol: "keygate" });

      // A token that does not verify: the upgrade is refused, so the browser never opens it.
      const refused = await page.evaluate(openAndEcho, {
        url,
        protocols: ["keygate", "ek_not_a_real_token"],
        text: "never sent",
      });
      assert.deepEqual(refused, { error: "closed", code: 1006 });
    } finally {
      await context?.close();
      server.child.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
