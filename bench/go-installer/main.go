// The compiled peer in `npm run bench`: a single-process installer on
// filippo.io/age, doing what sops-nix's Go installer (sops-install-secrets)
// does for each secret: the host key parsed once, every file decrypted in the
// same process, written to a new file opened exclusively, renamed into place.
// Around that, the same steps as ageboot activate: mount a ramfs when nothing
// is mounted (mount(2), no child process), one new generation directory,
// the symlink swapped by rename, older generations removed.
//
// It reads ageboot's own manifest (JSON: secretsDir, secretsMountPoint,
// identityPaths, secrets.NAME.file) so that both run the same host.
// Built by bench/run.mjs offline from Debian's packages (GOPATH mode:
// golang-filippo-age-dev and its dependencies under /usr/share/gocode).
// A benchmark tool only: no ownership, no custom paths, no change report.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/armor"
)

type manifest struct {
	SecretsDir        string   `json:"secretsDir"`
	SecretsMountPoint string   `json:"secretsMountPoint"`
	IdentityPaths     []string `json:"identityPaths"`
	Secrets           map[string]struct {
		File string `json:"file"`
	} `json:"secrets"`
}

func main() {
	if len(os.Args) != 2 {
		fail(fmt.Errorf("usage: go-installer MANIFEST.json"))
	}
	var m manifest
	raw, err := os.ReadFile(os.Args[1])
	if err == nil {
		err = json.Unmarshal(raw, &m)
	}
	if err != nil {
		fail(err)
	}

	// The host keys, parsed once for every file.
	var identities []age.Identity
	for _, path := range m.IdentityPaths {
		pem, err := os.ReadFile(path)
		if err != nil {
			fail(err)
		}
		identity, err := agessh.ParseIdentity(pem)
		if err != nil {
			fail(fmt.Errorf("%s: %w", path, err))
		}
		identities = append(identities, identity)
	}

	if err := ensureRamfs(m.SecretsMountPoint); err != nil {
		fail(err)
	}
	current := 0
	if target, err := os.Readlink(m.SecretsDir); err == nil {
		current, _ = strconv.Atoi(filepath.Base(target))
	}
	next := current + 1
	generation := filepath.Join(m.SecretsMountPoint, strconv.Itoa(next))
	if err := os.Mkdir(generation, 0o751); err != nil {
		fail(err)
	}

	buffer := make([]byte, 64*1024)
	for name, secret := range m.Secrets {
		if err := install(generation, name, secret.File, identities, buffer); err != nil {
			fail(fmt.Errorf("%s: %w", name, err))
		}
	}

	// The new generation becomes current in one rename of a symlink.
	link := m.SecretsDir + ".tmp"
	os.Remove(link)
	if err := os.Symlink(generation, link); err != nil {
		fail(err)
	}
	if err := os.Rename(link, m.SecretsDir); err != nil {
		fail(err)
	}
	// Keep the current and the previous generation, as agenix does.
	entries, _ := os.ReadDir(m.SecretsMountPoint)
	for _, entry := range entries {
		if entry.Name() != strconv.Itoa(next) && entry.Name() != strconv.Itoa(current) {
			os.RemoveAll(filepath.Join(m.SecretsMountPoint, entry.Name()))
		}
	}
}

// install decrypts one age file (binary or armored) into dir/name: a new file
// opened O_EXCL with mode 0400, then renamed from its temporary name.
func install(dir, name, file string, identities []age.Identity, buffer []byte) error {
	in, err := os.Open(file)
	if err != nil {
		return err
	}
	defer in.Close()
	buffered := bufio.NewReaderSize(in, 64*1024)
	var source io.Reader = buffered
	if start, _ := buffered.Peek(len(armor.Header)); string(start) == armor.Header {
		source = armor.NewReader(buffered)
	}
	plaintext, err := age.Decrypt(source, identities...)
	if err != nil {
		return err
	}
	temporary := filepath.Join(dir, "."+name+".tmp")
	out, err := os.OpenFile(temporary, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		return err
	}
	if _, err := io.CopyBuffer(onlyWriter{out}, plaintext, buffer); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(temporary, filepath.Join(dir, name))
}

// onlyWriter hides *os.File's ReadFrom, so that CopyBuffer uses the buffer it is given.
type onlyWriter struct{ io.Writer }

// ensureRamfs mounts a ramfs at path unless a ramfs or tmpfs is mounted exactly there.
func ensureRamfs(path string) error {
	if err := os.MkdirAll(path, 0o751); err != nil {
		return err
	}
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	for _, line := range bytes.Split(mountinfo, []byte("\n")) {
		fields := strings.Fields(string(line))
		if len(fields) > 4 && fields[4] == path {
			return nil
		}
	}
	return syscall.Mount("ramfs", path, "ramfs", syscall.MS_NODEV|syscall.MS_NOSUID, "mode=0751")
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "go-installer: %v\n", err)
	os.Exit(1)
}
