package e2e

// The Dockerfile against the .deb/.rpm's defaults (packaging/) and the
// binary's own, so that neither drifts silently. The image itself cannot be
// built here (no registry); scripts/package-test.sh tests the package.

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dockerInstr is one Dockerfile instruction, continuation lines joined.
type dockerInstr struct {
	cmd, args string
}

// readDockerfile returns the instructions of a Dockerfile, without
// comments, with `\` continuations joined.
func readDockerfile(t *testing.T, path string) []dockerInstr {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstr
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		full := cur.String()
		cur.Reset()
		cmd, args, _ := strings.Cut(full, " ")
		out = append(out, dockerInstr{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
	}
	return out
}

// lastStage returns the instructions of the last stage, its FROM first.
func lastStage(ins []dockerInstr) []dockerInstr {
	for i := len(ins) - 1; i >= 0; i-- {
		if ins[i].cmd == "FROM" {
			return ins[i:]
		}
	}
	return nil
}

// argsOf returns the arguments of every cmd instruction in ins.
func argsOf(ins []dockerInstr, cmd string) []string {
	var out []string
	for _, in := range ins {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// jsonArgs decodes the exec form of ENTRYPOINT or CMD.
func jsonArgs(t *testing.T, what, s string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatalf("Dockerfile %s %s: not the exec (JSON) form: %v", what, s, err)
	}
	return out
}

// keyValues reads the KEY=VALUE lines of a systemd unit or an /etc/default
// file (the value unquoted).
func keyValues(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = strings.Trim(v, `"`)
		}
	}
	return out
}

// serveDefaults builds the exporter and returns the defaults `serve --help`
// prints for each flag.
func serveDefaults(t *testing.T) map[string]string {
	t.Helper()
	exe := buildExporter(t, t.TempDir())
	out, err := exec.Command(exe, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("vsphere_audit_exporter serve --help: %v\n%s", err, out)
	}
	re := regexp.MustCompile(`(?m)^\s+--([a-z0-9.-]+)=("([^"]*)"|(\S+))`)
	defaults := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		v := m[4]
		if strings.HasPrefix(m[2], `"`) {
			v = m[3]
		}
		defaults[m[1]] = v
	}
	return defaults
}

func port(t *testing.T, flag, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil || p == "" {
		t.Fatalf("default of --%s is %q, not host:port: %v", flag, addr, err)
	}
	return p
}

// TestDockerfileMirrorsPackageDefaults: the image runs what the unit runs
// (`serve $ARGS`, ARGS from the packaged /etc/default file as CMD), keeps
// its state where the unit's StateDirectory is (a VOLUME, owned by the
// non-root USER), exposes the binary's default web and syslog ports, builds
// with go.mod's Go, and carries the OCI labels.
func TestDockerfileMirrorsPackageDefaults(t *testing.T) {
	all := readDockerfile(t, "../Dockerfile")
	final := lastStage(all)
	if final == nil {
		t.Fatal("Dockerfile: no FROM")
	}
	unit := keyValues(t, "../packaging/vsphere_audit_exporter.service")
	defaultsFile := keyValues(t, "../packaging/vsphere_audit_exporter.default")
	bin := serveDefaults(t)

	// The base and the user.
	if base := final[0].args; base != "gcr.io/distroless/static-debian12:nonroot" && base != "scratch" {
		t.Errorf("Dockerfile final stage FROM %s, want gcr.io/distroless/static-debian12:nonroot or scratch", base)
	}
	users := argsOf(final, "USER")
	if len(users) != 1 {
		t.Fatalf("Dockerfile final stage has USER %v, want one", users)
	}
	user := users[0]
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "0" || u == "root" {
		t.Errorf("Dockerfile USER %s runs as root", user)
	}

	// Go: the builder's GO_VERSION is go.mod's.
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(string(gomod))
	if goVersion == nil {
		t.Fatal("go.mod: no go directive")
	}
	if !slices.Contains(argsOf(all, "ARG"), "GO_VERSION="+goVersion[1]) {
		t.Errorf("Dockerfile: want ARG GO_VERSION=%s (go.mod's go directive); ARGs %v", goVersion[1], argsOf(all, "ARG"))
	}
	if !slices.ContainsFunc(argsOf(all, "FROM"), func(s string) bool { return strings.HasPrefix(s, "golang:${GO_VERSION}") }) {
		t.Errorf("Dockerfile: no builder stage FROM golang:${GO_VERSION}...; FROMs %v", argsOf(all, "FROM"))
	}
	if !slices.ContainsFunc(argsOf(all, "RUN"), func(s string) bool {
		return strings.Contains(s, "CGO_ENABLED=0") && strings.Contains(s, "version.Version=${VERSION}") && strings.Contains(s, "version.Revision=${REVISION}")
	}) {
		t.Error("Dockerfile: no RUN that builds with CGO_ENABLED=0 and stamps version.Version=${VERSION} and version.Revision=${REVISION}")
	}

	// What runs: the unit's ExecStart is `/usr/bin/<binary> serve $ARGS`.
	execStart := strings.Fields(unit["ExecStart"])
	if len(execStart) != 3 || execStart[1] != "serve" || execStart[2] != "$ARGS" {
		t.Fatalf("unit ExecStart=%q, the test knows `<binary> serve $ARGS`", unit["ExecStart"])
	}
	entry := argsOf(final, "ENTRYPOINT")
	cmd := argsOf(final, "CMD")
	if len(entry) != 1 || len(cmd) != 1 {
		t.Fatalf("Dockerfile final stage: ENTRYPOINT %v, CMD %v; want one of each", entry, cmd)
	}
	ep := jsonArgs(t, "ENTRYPOINT", entry[0])
	if len(ep) != 2 || filepath.Base(ep[0]) != filepath.Base(execStart[0]) || ep[1] != "serve" {
		t.Errorf("Dockerfile ENTRYPOINT %v, want [<dir>/%s serve] as the unit's ExecStart %q", ep, filepath.Base(execStart[0]), unit["ExecStart"])
	}
	copied := false
	for _, c := range argsOf(final, "COPY") {
		if f := strings.Fields(c); len(ep) > 0 && len(f) >= 2 && f[len(f)-1] == ep[0] {
			copied = true
		}
	}
	if !copied {
		t.Errorf("Dockerfile: no COPY to the ENTRYPOINT's binary %s", ep[0])
	}
	args, ok := defaultsFile["ARGS"]
	if !ok {
		t.Fatal("packaging/vsphere_audit_exporter.default: no ARGS")
	}
	if got, want := jsonArgs(t, "CMD", cmd[0]), strings.Fields(args); !slices.Equal(got, want) {
		t.Errorf("Dockerfile CMD %q, want the packaged ARGS %q", got, want)
	}
	// CMD is replaced by any argument given to docker run: the packaged
	// ARGS must be the binary's defaults, so that replacing it keeps them.
	for _, a := range strings.Fields(args) {
		name, val, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if d, ok := bin[name]; !ok || d != val {
			t.Errorf("packaged ARGS has %s; the binary's default of --%s is %q", a, name, d)
		}
	}

	// State: the unit's StateDirectory, a VOLUME, the WORKDIR, owned by USER.
	state := "/var/lib/" + unit["StateDirectory"]
	if unit["StateDirectory"] == "" || unit["WorkingDirectory"] != state {
		t.Fatalf("unit StateDirectory=%q WorkingDirectory=%q: the test wants both", unit["StateDirectory"], unit["WorkingDirectory"])
	}
	vols := argsOf(final, "VOLUME")
	if len(vols) != 1 || !slices.Equal(jsonArgs(t, "VOLUME", vols[0]), []string{state}) {
		t.Errorf("Dockerfile VOLUME %v, want [%q] (the unit's StateDirectory)", vols, state)
	}
	if wd := argsOf(final, "WORKDIR"); !slices.Equal(wd, []string{state}) {
		t.Errorf("Dockerfile final stage WORKDIR %v, want %s (the unit's WorkingDirectory)", wd, state)
	}
	owned := false
	for _, c := range argsOf(final, "COPY") {
		f := strings.Fields(c)
		if len(f) > 0 && f[len(f)-1] == state && slices.Contains(f, "--chown="+user) {
			owned = true
		}
	}
	if !owned {
		t.Errorf("Dockerfile: no COPY --chown=%s creating %s (the volume must be writable by USER)", user, state)
	}
	for _, a := range strings.Fields(args) {
		if _, val, _ := strings.Cut(a, "="); strings.HasPrefix(val, "/") && val != state && !strings.HasPrefix(val, state+"/") {
			t.Errorf("packaged ARGS %s is outside the state directory %s (not in the volume)", a, state)
		}
	}

	// Ports: the binary's defaults.
	want := []string{
		port(t, "web.listen-address", bin["web.listen-address"]) + "/tcp",
		port(t, "syslog.tcp.listen-address", bin["syslog.tcp.listen-address"]) + "/tcp",
		port(t, "syslog.udp.listen-address", bin["syslog.udp.listen-address"]) + "/udp",
	}
	var got []string
	for _, e := range argsOf(final, "EXPOSE") {
		got = append(got, strings.Fields(e)...)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Dockerfile EXPOSE %v, want %v (the defaults of --web.listen-address, --syslog.tcp.listen-address, --syslog.udp.listen-address)", got, want)
	}

	// OCI labels, the license the package's.
	labels := strings.Join(argsOf(final, "LABEL"), " ")
	for _, k := range []string{"title", "description", "source", "url", "licenses", "version", "revision", "created"} {
		if !strings.Contains(labels, "org.opencontainers.image."+k+"=") {
			t.Errorf("Dockerfile: no LABEL org.opencontainers.image.%s", k)
		}
	}
	nfpm, err := os.ReadFile("../packaging/nfpm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lic := regexp.MustCompile(`(?m)^license: (\S+)$`).FindStringSubmatch(string(nfpm))
	if lic == nil || !strings.Contains(labels, `org.opencontainers.image.licenses="`+lic[1]+`"`) {
		t.Errorf("Dockerfile: org.opencontainers.image.licenses is not the package's license %v", lic)
	}
}
