import type { Page } from "@playwright/test";
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";

const root = path.resolve(__dirname, "../..");

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A private Tickertape server for specs that must stop, freeze or restart it (the shared
 * `webServer` must stay up for the others). Same binary, its own port and settings.
 */
export class OwnServer {
  private child?: ChildProcess;
  private constructor(readonly port: number, private readonly env: Record<string, string>) {}

  static async start(env: Record<string, string> = {}): Promise<OwnServer> {
    const server = new OwnServer(await freePort(), env);
    await server.launch();
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async launch(): Promise<void> {
    const child = spawn(path.join(root, "target/release/tickertape"), [], {
      cwd: root,
      env: { ...process.env, RUST_LOG: "warn", MARKET_SEED: "7", ...this.env, LEPTOS_SITE_ADDR: `127.0.0.1:${this.port}` },
      stdio: ["ignore", "ignore", "inherit"],
    });
    this.child = child;
    // Poll /healthz until it answers: readiness, not a fixed delay.
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
      try {
        if ((await fetch(`${this.url}/healthz`)).ok) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error("server did not become healthy in 20 s");
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * SIGTERM and wait for the exit. Pass the page that was using this server: it leaves first,
   * so its stream does not try to reconnect to a server that is gone (a refused connection is a
   * console error, which the fixtures count as a failure).
   */
  async stop(page?: Page): Promise<void> {
    if (page && !page.isClosed()) await page.goto("about:blank");
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGCONT");
    child.kill("SIGTERM");
    await exited;
  }

  freeze(): void {
    this.child?.kill("SIGSTOP");
  }

  thaw(): void {
    this.child?.kill("SIGCONT");
  }
}
