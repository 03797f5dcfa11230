// sd_notify STATUS= progress through the systemd-notify package (which runs the
// real systemd-notify(1)), received on a real AF_UNIX datagram socket as
// systemd would receive it. Node cannot bind datagram unix sockets, so a small
// python3 listener stands in for systemd's end of the socket.
import { spawn } from "node:child_process";
import { chownSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import type { AgebootRunOptions } from "../helpers/ageboot-process.js";
import { hostPerFile } from "../helpers/host-lifecycle.js";
import { requirePrivateNamespace, TEST_USERS } from "../helpers/private-namespace.js";
import { tempDir } from "../helpers/temp-dir.js";

beforeAll(requirePrivateNamespace);

const host = hostPerFile();

const listener = `
import os, select, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
def show(datagram):
    print(datagram.decode().replace("\\n", " | "), flush=True)
# Receive until the test closes our stdin: the run has exited by then, and
# ageboot waits for each systemd-notify(1) it starts, so every datagram it
# sent is already queued; drain them and stop (no idle timeout to wait out).
while True:
    readable, _, _ = select.select([s, 0], [], [], float(sys.argv[2]))
    if not readable:
        sys.exit("notify listener: stdin was never closed")
    if s in readable:
        show(s.recv(4096))
    elif os.read(0, 1) == b"":
        break
s.setblocking(False)
try:
    while True:
        show(s.recv(4096))
except BlockingIOError:
    pass
`;

/** Activate `host` (through `via`) with NOTIFY_SOCKET set; what the socket received, and the PID of what was run. */
async function notifiedRun(via: AgebootRunOptions["via"], socketName: string, listenAs?: { uid: number; gid: number; dir: string }): Promise<{ received: string; pid: number }> {
  const socketPath = join(listenAs?.dir ?? host.root, socketName);
  // Debian's python3: a pyenv shim on root's PATH is not for other users.
  const python = [listenAs === undefined ? "python3" : "/usr/bin/python3", "-c", listener, socketPath, "60"];
  const command = listenAs === undefined ? python : ["setpriv", `--reuid=${listenAs.uid}`, `--regid=${listenAs.gid}`, "--clear-groups", "--", ...python];
  const receiver = spawn(command[0]!, command.slice(1), { stdio: ["pipe", "pipe", "inherit"] });
  let received = "";
  receiver.stdout.on("data", (chunk: Buffer) => (received += chunk.toString()));
  while (!received.includes("ready")) await new Promise((resolve) => setTimeout(resolve, 20));
  const run = host.activateWith({ via, env: { NOTIFY_SOCKET: socketPath } });
  const receiverExit = new Promise((resolve) => receiver.on("exit", resolve));
  receiver.stdin.end();
  expect(await receiverExit).toBe(0);
  expect(run.status, run.stderr).toBe(0);
  return { received, pid: run.pid };
}

const mainPids = (received: string) => [...new Set([...received.matchAll(/MAINPID=(\d+)/g)].map((match) => Number(match[1])))];

it("reports progress and the summary as STATUS=, and a dead socket never fails the run", async () => {
  host.writeManifest({ a: { file: host.encrypt("a") }, b: { file: host.encrypt("b") } });
  const { received, pid } = await notifiedRun("node", "notify.sock");
  // node is the main process here: MAINPID= names it.
  expect(mainPids(received)).toEqual([pid]);
  expect(received).toContain("STATUS=Planning 2 secrets");
  expect(received).toContain("STATUS=Decrypting 2 secrets into generation 1");
  expect(received).toContain("STATUS=generation 1 is current: 2 added");

  const dead = host.activateWith({ env: { NOTIFY_SOCKET: join(host.root, "nobody-listens.sock") } });
  expect(dead.status, dead.stderr).toBe(0);
  expect(dead.stderr).not.toMatch(/error/);
});

it("names the launcher as MAINPID= when the launcher started node, since systemd can only see its own child exit", async () => {
  const { received, pid } = await notifiedRun("launcher", "notify-launcher.sock");
  expect(received).toContain("STATUS=generation");
  expect(mainPids(received)).toEqual([pid]);
});

it("as root, a NOTIFY_SOCKET of another user's (sudo -E) gets nothing: they could stop reading and hang the run, lock held", async () => {
  const { alice } = TEST_USERS;
  const { dir, cleanup } = tempDir("ageboot-notify-alice-");
  try {
    chownSync(dir, alice.uid, alice.gid);
    host.writeManifest({ a: { file: host.encrypt("a") } });
    const { received } = await notifiedRun("node", "alice.sock", { uid: alice.uid, gid: alice.gid, dir });
    expect(received.replace("ready", "").trim()).toBe("");
  } finally {
    cleanup();
  }
});
