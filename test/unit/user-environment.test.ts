// `activate --user`'s view of who runs it and where (src/user/environment.ts),
// with the process identity given: no root needed.
import { describe, expect, it } from "vitest";
import { readUserEnvironment } from "../../src/user/environment.js";

const alice = { uid: 4101, gid: 4101, groups: [4101, 100], passwdHome: "/home/alice" };
const root = { uid: 0, gid: 0, groups: [0], passwdHome: "/root" };
const callersEnvironment = { HOME: "/home/mallory", XDG_CONFIG_HOME: "/home/mallory/.config", XDG_RUNTIME_DIR: "/run/user/4102" };

describe("readUserEnvironment", () => {
  it("a user's own session names their directories", () => {
    expect(readUserEnvironment(callersEnvironment, alice)).toEqual({
      uid: 4101,
      gid: 4101,
      gids: [4101, 100],
      home: "/home/mallory",
      runtimeDir: "/run/user/4102",
      configHome: "/home/mallory/.config",
    });
  });

  it("as root (sudo -E): another user's XDG_RUNTIME_DIR is refused, naming root's own", () => {
    expect(() => readUserEnvironment(callersEnvironment, root)).toThrow(/--user as root works in root's own runtime directory \/run\/user\/0 and home \/root.*\/run\/user\/4102/);
  });

  it("as root: HOME and XDG_CONFIG_HOME from the environment are never used; root's passwd home and /run/user/0 are", () => {
    const environment = { HOME: "/home/mallory", XDG_CONFIG_HOME: "/home/mallory/.config", XDG_RUNTIME_DIR: "/run/user/0/" };
    expect(readUserEnvironment(environment, root)).toEqual({ uid: 0, gid: 0, gids: [0], home: "/root", runtimeDir: "/run/user/0", configHome: "/root/.config" });
    expect(readUserEnvironment({ HOME: "/home/mallory" }, root).runtimeDir).toBe("/run/user/0");
  });
});
