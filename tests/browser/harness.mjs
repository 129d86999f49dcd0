// The deployment a browser test runs against: `tandem dev` sets up the
// photos app once (buckets, table, user pool, the built site), then the same
// tandem.toml runs as three processes (two regions and the edge), so one
// region can be killed on its own. Also the operator's CLI, a PNG maker and
// the Chromium launch of the issue (Debian's chromium, fresh profile).
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, mkdirSync, createWriteStream } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";
import https from "node:https";
import { test } from "node:test";
import { chromium } from "playwright-core";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const TANDEM = process.env.TANDEM_BIN ?? path.join(REPO, "target/release/tandem");
export const SITE = path.join(REPO, "apps/photos/dist");
export const ARTIFACTS = process.env.TANDEM_BROWSER_ARTIFACTS ?? path.join(REPO, "target/browser-artifacts");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value (returned) or `ms` pass. */
export async function waitFor(what, check, ms = 20000, every = 100) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(every);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

function portFree(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** A base port with base..base+2 (regions, edge) and base+53 (DNS) free. */
async function basePort() {
  for (;;) {
    const base = 20000 + Math.floor(Math.random() * 20000);
    const all = await Promise.all([0, 1, 2, 53].map((o) => portFree(base + o)));
    if (all.every(Boolean)) return base;
  }
}

/**
 * A TCP relay to a local port that the test can cut (every connection
 * dropped, new ones closed at once) and heal: a partition of one link.
 */
export class Relay {
  static start(targetPort) {
    const relay = new Relay(targetPort);
    return new Promise((resolve) => relay.server.listen(0, "127.0.0.1", () => resolve(relay)));
  }

  constructor(targetPort) {
    this.cutOff = false;
    this.sockets = new Set();
    this.server = createServer((viewer) => {
      if (this.cutOff) return viewer.destroy();
      const origin = connect(targetPort, "127.0.0.1");
      for (const [a, b] of [[viewer, origin], [origin, viewer]]) {
        this.sockets.add(a);
        a.on("close", () => this.sockets.delete(a));
        a.on("error", () => b.destroy());
        a.pipe(b);
      }
    });
  }

  get port() {
    return this.server.address().port;
  }

  cut() {
    this.cutOff = true;
    for (const s of this.sockets) s.destroy();
  }

  heal() {
    this.cutOff = false;
  }

  close() {
    this.cut();
    this.server.close();
  }
}

export class Deployment {
  constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), "tandem-browser-"));
    this.procs = {};
    mkdirSync(ARTIFACTS, { recursive: true });
  }

  get edge() {
    return `https://127.0.0.1:${this.base + 2}`;
  }

  region(name) {
    return `http://127.0.0.1:${this.base + (name === "us-east" ? 0 : 1)}`;
  }

  /** Runs `tandem dev` until the app is set up, then stops it. */
  async setUp() {
    this.base = await basePort();
    const dev = spawn(TANDEM, ["dev", "--port", String(this.base), "--data-dir", "data", "--site", SITE], {
      cwd: this.dir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    dev.stdout.on("data", (d) => (out += d));
    dev.stderr.on("data", (d) => (out += d));
    const exited = new Promise((r) => dev.once("exit", r));
    try {
      await waitFor("tandem dev to set up the photos app", () => /temporary password|signs in with the password/.test(out), 60000);
    } finally {
      dev.kill("SIGTERM");
      await exited;
      createWriteStream(path.join(ARTIFACTS, "tandem-dev.log")).end(out);
    }
    if (!out.includes("site of photos:")) throw new Error(`tandem dev did not upload the site:\n${out}`);
  }

  start(name, args) {
    const log = createWriteStream(path.join(ARTIFACTS, `${name}.log`), { flags: "a" });
    const p = spawn(TANDEM, args, { cwd: this.dir, stdio: ["ignore", "pipe", "pipe"] });
    p.stdout.pipe(log);
    p.stderr.pipe(log);
    this.procs[name] = p;
    return p;
  }

  async startRegion(name) {
    this.start(name, ["serve", "--config", "tandem.toml", "--region", name]);
    await waitFor(`${name} to answer /health`, async () => (await fetch(`${this.region(name)}/health`)).ok);
  }

  async startAll() {
    await Promise.all(["us-east", "ap-tokyo"].map((r) => this.startRegion(r)));
    this.start("edge", ["edge", "--config", "tandem.toml"]);
    await waitFor("the edge", async () => (await this.edgeGet("/metrics")).status === 200);
  }

  /** A GET through the edge (its certificate is self-signed). */
  edgeGet(pathname) {
    return new Promise((resolve, reject) => {
      const req = https.get(`${this.edge}${pathname}`, { rejectUnauthorized: false, timeout: 5000 }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
      });
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", reject);
    });
  }

  /** kill -9 of one process. */
  async kill(name) {
    const p = this.procs[name];
    const exited = new Promise((r) => p.once("exit", r));
    p.kill("SIGKILL");
    await exited;
  }

  async stop() {
    await Promise.all(
      Object.values(this.procs)
        .filter((p) => p.exitCode === null && p.signalCode === null)
        .map((p) => {
          const exited = new Promise((r) => p.once("exit", r));
          p.kill("SIGTERM");
          return exited;
        }),
    );
  }

  /** The operator's CLI in the deployment's directory; rejects on a non-zero exit. */
  cli(args, timeoutMs = 90000) {
    return new Promise((resolve, reject) => {
      execFile(TANDEM, args, { cwd: this.dir, timeout: timeoutMs, env: { ...process.env, NO_COLOR: "1" } }, (err, stdout, stderr) => {
        if (err) reject(new Error(`tandem ${args.join(" ")}: ${err.message}\n${stdout}${stderr}`));
        else resolve(stdout + stderr);
      });
    });
  }

  /** A user with a temporary password, made with `tandem user create`. */
  async createUser(email) {
    const out = await this.cli(["user", "create", "--email", email]);
    const lines = out.trim().split("\n");
    const i = lines.findIndex((l) => l.startsWith("temporary password"));
    if (i < 0) throw new Error(`no temporary password in: ${out}`);
    return lines[i + 1].trim();
  }

  /** The aws CLI against one region with the dev admin key. */
  aws(region, args) {
    const signing = region === "us-east" ? "us-east-1" : "ap-northeast-1";
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: "TANDEMDEVACCESSKEY01",
      AWS_SECRET_ACCESS_KEY: "tandem-dev-secret-key-do-not-use-in-prod",
      AWS_DEFAULT_REGION: signing,
      AWS_EC2_METADATA_DISABLED: "true",
    };
    return new Promise((resolve, reject) => {
      execFile("aws", ["--endpoint-url", this.region(region), "--output", "json", ...args], { env, timeout: 60000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`aws ${args.join(" ")}: ${err.message}\n${stderr}`));
        else resolve(stdout ? JSON.parse(stdout) : {});
      });
    });
  }
}

/** Debian's chromium with the flags of the issue and a fresh profile. */
export async function launchBrowser() {
  const profile = mkdtempSync(path.join(tmpdir(), "tandem-chromium-"));
  return chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    ignoreHTTPSErrors: true, // the dev edge's certificate is self-signed
    viewport: { width: 1280, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}

/** A PNG of `width` x `height` in one colour with a stripe, for uploads. */
export function png(width, height, [r, g, b]) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const byte of buf) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      const stripe = Math.abs(x - y) < 4;
      row.set(stripe ? [255, 255, 255] : [r, g, b], 1 + x * 3);
    }
    rows.push(row);
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk("IHDR", header), chunk("IDAT", deflateSync(Buffer.concat(rows))), chunk("IEND", Buffer.alloc(0))]);
}

/**
 * The steps of one browser test file: each runs only if the ones before it
 * passed, and a failing one leaves a screenshot `failed-<prefix><n>`.
 * `pageOf` gives the page (made in `before`).
 */
export function stepper(pageOf, prefix = "") {
  let failed = false;
  const shot = (name) => pageOf().screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  const step = (name, body, timeout = 180000) =>
    test(name, { timeout }, async (t) => {
      if (failed) return t.skip("an earlier step failed");
      try {
        await body();
      } catch (e) {
        failed = true;
        await shot(`failed-${prefix}${name.split(":")[0]}`).catch(() => undefined);
        throw e;
      }
    });
  return { step, shot };
}
