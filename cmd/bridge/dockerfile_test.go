package main

// Checks of the Dockerfile, .dockerignore and compose.yaml that need no
// Docker engine: the image's build is static and its final stage small and
// non-root, the build context holds what the build needs, and compose.yaml
// runs a JetStream cluster, the simulator and bridges with settings, flags
// and ports that the code accepts. `make compose-check` validates
// compose.yaml's syntax with docker-compose too. The Dockerfile is read by
// BuildKit's own parser, .dockerignore matched by Docker's own pattern
// matcher, and compose.yaml loaded by Docker Compose's own loader.

import (
	"bytes"
	"cmp"
	"context"
	"debug/elf"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	composeloader "github.com/compose-spec/compose-go/v2/loader"
	composetypes "github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/gormic/crm-bridge/internal/config"
	"github.com/gormic/crm-bridge/internal/crmsim"
)

// repoRoot is the module's root, the Docker build context.
const repoRoot = "../.."

// dockerfile is the Dockerfile as BuildKit reads it, and its one RUN that
// runs go build.
type dockerfile struct {
	stages []instructions.Stage
	build  int                      // the index of the stage that runs go build
	run    *instructions.RunCommand // the RUN
	vars   map[string]string        // the build stage's ARG defaults and ENV values at the RUN
}

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	ast, err := parser.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	stages, _, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	df := dockerfile{stages: stages}
	found := 0
	for i, st := range stages {
		vars := map[string]string{}
		for _, c := range st.Commands {
			switch c := c.(type) {
			case *instructions.ArgCommand:
				for _, a := range c.Args {
					vars[a.Key] = a.ValueString()
				}
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					vars[kv.Key] = kv.Value
				}
			case *instructions.RunCommand:
				if strings.Contains(strings.Join(c.CmdLine, " "), "go build") {
					found++
					df.build, df.run, df.vars = i, c, maps.Clone(vars)
				}
			}
		}
	}
	if found != 1 {
		t.Fatalf("Dockerfile: %d RUN instructions run go build, want 1", found)
	}
	return df
}

// final returns the last stage, the image.
func (df dockerfile) final() instructions.Stage { return df.stages[len(df.stages)-1] }

// commandsOf returns the instructions of type T of st, in order.
func commandsOf[T instructions.Command](st instructions.Stage) []T {
	var out []T
	for _, c := range st.Commands {
		if c, ok := c.(T); ok {
			out = append(out, c)
		}
	}
	return out
}

// stageEnv returns the ENV settings of st.
func stageEnv(st instructions.Stage) map[string]string {
	out := map[string]string{}
	for _, c := range commandsOf[*instructions.EnvCommand](st) {
		for _, kv := range c.Env {
			out[kv.Key] = kv.Value
		}
	}
	return out
}

// goBuild splits the go build RUN into its words as a shell would,
// expanding vars (an unknown name fails t), and checks that it is one
// plain command: NAME=value words, then `go build` and its arguments,
// among them -o output.
func (df dockerfile) goBuild(t *testing.T, vars map[string]string) (assign, args []string, output string) {
	t.Helper()
	var kv []string
	for k, v := range vars {
		kv = append(kv, k+"="+v)
	}
	res, err := shell.NewLex('\\').ProcessWordWithMatches(strings.Join(df.run.CmdLine, " "), shell.EnvsFromSlice(kv))
	if err != nil {
		t.Fatalf("%v: %v", df.run, err)
	}
	for name := range res.Unmatched {
		t.Fatalf("%v: $%s is neither an ARG nor an ENV of the stage", df.run, name)
	}
	words := res.Words
	for len(words) > 0 && shellAssignment.MatchString(words[0]) {
		assign, words = append(assign, words[0]), words[1:]
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" {
		t.Fatalf("%v: want [NAME=value ...] go build ..., one command (the test runs it)", df.run)
	}
	args = words[2:]
	for i, w := range args {
		if slices.Contains([]string{"&&", "||", ";", "|", "&"}, w) || strings.HasSuffix(w, ";") {
			t.Fatalf("%v: want one go build command (the test runs it), found %q", df.run, w)
		}
		if w == "-o" && i+1 < len(args) {
			output = args[i+1]
		}
	}
	if output == "" {
		t.Fatalf("%v: no -o", df.run)
	}
	return assign, args, output
}

// goModMinor returns go.mod's go directive as major.minor.
func goModMinor(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod: no go directive")
	}
	return string(m[1])
}

// settingNames returns every BRIDGE_ variable the bridge reads, from the
// table `bridge run --help` prints.
func settingNames(t *testing.T) map[string]bool {
	t.Helper()
	var b bytes.Buffer
	config.PrintUsage(&b)
	names := map[string]bool{}
	for _, line := range strings.Split(b.String(), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[1], "BRIDGE_") {
			names[f[1]] = true
		}
	}
	if len(names) < 10 {
		t.Fatalf("found %d settings in config.PrintUsage's output:\n%s", len(names), b.String())
	}
	return names
}

var (
	shellAssignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
	goBuilderImage  = regexp.MustCompile(`^golang:(\d+\.\d+)(\.\d+)?(-[a-z0-9.]+)?(@sha256:[0-9a-f]{64})?$`)
	smallImage      = regexp.MustCompile(`^(scratch|gcr\.io/distroless/static(-debian\d+)?(:[a-z0-9.-]+)?(@sha256:[0-9a-f]{64})?)$`)
	numericUser     = regexp.MustCompile(`^(\d+)(:(\d+))?$`)
)

func TestDockerfile(t *testing.T) {
	df := readDockerfile(t)
	if len(df.stages) < 2 {
		t.Fatalf("Dockerfile: %d stage(s), want a build stage and a final stage", len(df.stages))
	}
	final, build := df.final(), df.stages[df.build]
	assign, args, output := df.goBuild(t, df.vars)
	if df.build == len(df.stages)-1 {
		t.Errorf("%v: go build runs in the final stage", df.run)
	}

	// The builder's Go is go.mod's.
	if m := goBuilderImage.FindStringSubmatch(build.BaseName); m == nil {
		t.Errorf("Dockerfile: the build stage's image %q is not golang:X.Y[...]", build.BaseName)
	} else if want := goModMinor(t); m[1] != want {
		t.Errorf("Dockerfile: the build stage's image is golang:%s, go.mod says go %s", m[1], want)
	}

	// A static, reproducible build.
	if !slices.Contains(assign, "CGO_ENABLED=0") {
		t.Errorf("%v: not CGO_ENABLED=0: the binary would need a C library distroless static lacks", df.run)
	}
	if !slices.Contains(args, "-trimpath") {
		t.Errorf("%v: no -trimpath", df.run)
	}

	// A small final image, no shell, not root.
	if !smallImage.MatchString(final.BaseName) {
		t.Errorf("Dockerfile: the final stage's image %q is neither distroless static nor scratch", final.BaseName)
	}
	for _, in := range commandsOf[*instructions.RunCommand](final) {
		t.Errorf("%v: the final image has no shell", in)
	}
	if users := commandsOf[*instructions.UserCommand](final); len(users) == 0 {
		t.Error("Dockerfile: the final stage sets no USER: it would run as root")
	} else {
		u := users[len(users)-1]
		m := numericUser.FindStringSubmatch(u.User)
		switch {
		case m == nil:
			t.Errorf("%v: want a numeric uid[:gid], which Kubernetes' runAsNonRoot can verify", u)
		case m[1] == "0" || m[3] == "0":
			t.Errorf("%v: root", u)
		}
	}

	// COPY --from names an earlier stage; the binary goes to the
	// ENTRYPOINT.
	binary := ""
	for i, st := range df.stages {
		for _, in := range commandsOf[*instructions.CopyCommand](st) {
			if in.From == "" {
				continue
			}
			src := slices.IndexFunc(df.stages[:i], func(s instructions.Stage) bool { return strings.EqualFold(s.Name, in.From) })
			if n, err := strconv.Atoi(in.From); err == nil && n < i {
				src = n
			}
			if src < 0 {
				t.Errorf("%v: --from=%s is no earlier stage", in, in.From)
				continue
			}
			if i != len(df.stages)-1 || src != df.build || !slices.Equal(in.SourcePaths, []string{output}) {
				continue
			}
			binary = in.DestPath
			if strings.HasSuffix(binary, "/") {
				binary += filepath.Base(output)
			}
		}
	}
	if binary == "" {
		t.Fatalf("Dockerfile: the final stage does not COPY --from=%s %s (go build's -o) to a path", build.Name, output)
	}
	entry := commandsOf[*instructions.EntrypointCommand](final)
	if len(entry) != 1 {
		t.Fatalf("Dockerfile: %d ENTRYPOINTs in the final stage, want 1", len(entry))
	}
	if argv := execForm(t, entry[0], entry[0].ShellDependantCmdLine); argv != nil && (len(argv) != 1 || argv[0] != binary) {
		t.Errorf("%v: want [%q], the binary copied from the build stage", entry[0], binary)
	}
	for _, in := range commandsOf[*instructions.CmdCommand](final) {
		argv := execForm(t, in, in.ShellDependantCmdLine)
		if argv != nil && !slices.ContainsFunc(subcommands(), func(c command) bool { return c.name == argv[0] }) {
			t.Errorf("%v: %q is no subcommand", in, argv[0])
		}
	}

	// The image's settings exist, and the HTTP port is reachable and
	// exposed.
	names := settingNames(t)
	imageEnv := stageEnv(final)
	for k := range imageEnv {
		if strings.HasPrefix(k, "BRIDGE_") && !names[k] {
			t.Errorf("Dockerfile: ENV %s is no setting of the bridge", k)
		}
	}
	if addr, ok := imageEnv["BRIDGE_HTTP_ADDR"]; ok {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || (host != "" && host != "0.0.0.0" && host != "::") {
			t.Errorf("Dockerfile: BRIDGE_HTTP_ADDR=%s is not reachable from outside the container", addr)
		}
		exposed := false
		for _, in := range commandsOf[*instructions.ExposeCommand](final) {
			for _, p := range in.Ports {
				exposed = exposed || strings.TrimSuffix(p, "/tcp") == port
			}
		}
		if !exposed {
			t.Errorf("Dockerfile: BRIDGE_HTTP_ADDR's port %s is not EXPOSEd", port)
		}
	}
}

// execForm returns the argv of an instruction in exec form (a JSON array).
func execForm(t *testing.T, in fmt.Stringer, cmd instructions.ShellDependantCmdLine) []string {
	t.Helper()
	if cmd.PrependShell || len(cmd.CmdLine) == 0 {
		t.Errorf("%v: not in exec form: a shell would be PID 1, and distroless has none", in)
		return nil
	}
	return cmd.CmdLine
}

// TestDockerfileBuildIsStatic runs the Dockerfile's go build (for linux, as
// in the image) and checks that the binary needs no dynamic loader nor any
// shared library, and that the VERSION build argument reaches it.
func TestDockerfileBuildIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the bridge, which takes minutes on a cold build cache")
	}
	df := readDockerfile(t)
	const testVersion = "dockerfile-test"
	_, hasVersion := df.vars["VERSION"]
	if hasVersion {
		df.vars["VERSION"] = testVersion
	}
	assign, args, _ := df.goBuild(t, df.vars)

	out := filepath.Join(t.TempDir(), "bridge")
	args[slices.Index(args, "-o")+1] = out
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = repoRoot
	cmd.Env = append(append(os.Environ(), "GOOS=linux"), assign...)
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", df.run, err, b)
	}
	t.Logf("go build %q: %v", args, time.Since(start).Round(time.Millisecond))

	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v program header: it is dynamically linked", p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v (%v)", libs, err)
	}

	if runtime.GOOS == "linux" && hasVersion {
		b, err := exec.Command(out, "version").CombinedOutput()
		if want := "bridge " + testVersion; err != nil || strings.TrimSpace(string(b)) != want {
			t.Errorf("built with VERSION=%s, `bridge version` printed %q (%v), want %q", testVersion, b, err, want)
		}
	}
}

// TestDockerfileContext checks that .dockerignore leaves in the build
// context every file the Dockerfile's COPYs name and the build reads.
func TestDockerfileContext(t *testing.T) {
	ignored := readDockerignore(t)
	need := []string{}
	for _, st := range readDockerfile(t).stages {
		for _, in := range commandsOf[*instructions.CopyCommand](st) {
			if in.From != "" {
				continue
			}
			for _, p := range in.SourcePaths {
				if p == "." {
					continue
				}
				if _, err := os.Stat(filepath.Join(repoRoot, p)); err != nil {
					t.Errorf("%v: %v", in, err)
				}
				need = append(need, p)
			}
		}
	}

	// The packages of the module that the binary is built from, for
	// linux without cgo as in the image.
	cmd := exec.Command("go", "list", "-deps", "-json=Dir,GoFiles,EmbedFiles,Module", "./cmd/bridge")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var p struct {
			Dir                 string
			GoFiles, EmbedFiles []string
			Module              *struct{ Main bool }
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || !p.Module.Main {
			continue
		}
		rel, err := filepath.Rel(root, p.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range append(p.GoFiles, p.EmbedFiles...) {
			need = append(need, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	if len(need) < 10 {
		t.Fatalf("found only %v to check", need)
	}
	for _, p := range need {
		if ignored(p) {
			t.Errorf(".dockerignore leaves out %s, which the image's build needs", p)
		}
	}
}

// readDockerignore returns whether .dockerignore leaves a path (slash
// separated, relative to the context) out of the build context.
func readDockerignore(t *testing.T) func(string) bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return compileDockerignore(t, string(b))
}

// compileDockerignore reads .dockerignore's content and returns whether it
// leaves a path out, as Docker does: each pattern against the path and its
// parent directories, the last matching pattern deciding (! includes
// again).
func compileDockerignore(t *testing.T, content string) func(string) bool {
	t.Helper()
	patterns, err := ignorefile.ReadAll(strings.NewReader(content))
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	return func(path string) bool {
		excluded, err := pm.MatchesOrParentMatches(path)
		if err != nil {
			t.Fatalf(".dockerignore: %s: %v", path, err)
		}
		return excluded
	}
}

// TestDockerfileContextMatching checks the test's reading of .dockerignore
// patterns.
func TestDockerfileContextMatching(t *testing.T) {
	for _, c := range []struct {
		patterns, path string
		want           bool
	}{
		{"/bridge", "bridge", true},
		{"/bridge", "cmd/bridge/main.go", false},
		{"docs", "docs/a.md", true},
		{"**/*.md", "README.md", true},
		{"**/*.md", "schemas/README.md", true},
		{"*.md", "schemas/README.md", false},
		{"internal/*/x.go", "internal/a/x.go", true},
		{"internal/*/x.go", "internal/a/b/x.go", false},
		{"internal/**", "internal/a/b/x.go", true},
		{"internal\n!internal/a", "internal/a/x.go", false},
		{"internal\n!internal/a", "internal/b/x.go", true},
		{"go.*", "go.mod", true},
	} {
		if got := compileDockerignore(t, c.patterns)(c.path); got != c.want {
			t.Errorf("patterns %q, path %q: excluded %v, want %v", c.patterns, c.path, got, c.want)
		}
	}
}

// readCompose loads compose.yaml as docker compose does: checked against
// the Compose specification's schema, merged, interpolated, its durations
// parsed and its ports and paths normalised.
func readCompose(t *testing.T) *composetypes.Project {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	p, err := composeloader.LoadWithContext(context.Background(), composetypes.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []composetypes.ConfigFile{{Filename: filepath.Join(root, "compose.yaml")}},
		Environment: composetypes.Mapping{},
	}, func(o *composeloader.Options) { o.SetProjectName("crm-bridge", true) })
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return p
}

// containerPorts returns the container ports that a service publishes.
func containerPorts(s composetypes.ServiceConfig) []string {
	var out []string
	for _, p := range s.Ports {
		out = append(out, strconv.Itoa(int(p.Target)))
	}
	return out
}

// natsServerMinor returns the major.minor version of the nats-server
// module that the tests run.
func natsServerMinor(t *testing.T) string {
	t.Helper()
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build info")
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/nats-io/nats-server/v2" {
			if m := regexp.MustCompile(`^v(\d+\.\d+)\.`).FindStringSubmatch(d.Version); m != nil {
				return m[1]
			}
		}
	}
	t.Fatal("no nats-server module in the build info")
	return ""
}

var natsImage = regexp.MustCompile(`^nats:(\d+\.\d+)(\.\d+)?-alpine[0-9.]*(@sha256:[0-9a-f]{64})?$`)

// TestDockerCompose checks what docker-compose config cannot: that
// compose.yaml runs a three-node JetStream cluster as nats-server reads its
// flags, the simulator with flags it has, and bridges whose settings exist,
// are valid and point at the cluster and the simulator, with streams of
// three replicas, HTTP published and time to stop gracefully.
func TestDockerCompose(t *testing.T) {
	cf := readCompose(t)
	var natsNames, bridgeNames, simNames []string
	for name, s := range cf.Services {
		switch {
		case strings.HasPrefix(s.Image, "nats:"):
			natsNames = append(natsNames, name)
		case s.Build != nil && len(s.Command) > 0 && s.Command[0] == "crmsim":
			simNames = append(simNames, name)
		case s.Build != nil && (len(s.Command) == 0 || s.Command[0] == "run"):
			bridgeNames = append(bridgeNames, name)
		default:
			t.Errorf("compose.yaml: service %s is neither NATS, the simulator nor a bridge", name)
		}
		if s.Build != nil && (s.Build.Context != cf.WorkingDir || s.Build.Dockerfile != "Dockerfile") {
			t.Errorf("compose.yaml: %s: build: %s %s, want . (the Dockerfile)", name, s.Build.Context, s.Build.Dockerfile)
		}
	}
	slices.Sort(natsNames)
	slices.Sort(bridgeNames)
	if len(natsNames) != 3 || len(bridgeNames) < 2 || len(simNames) != 1 {
		t.Fatalf("compose.yaml: NATS servers %v, bridges %v, simulators %v; want 3, 2 or more, 1", natsNames, bridgeNames, simNames)
	}

	// Host ports are published once.
	published := map[string]string{}
	for name, s := range cf.Services {
		for _, p := range s.Ports {
			h := p.HostIP + ":" + p.Published
			if other, ok := published[h]; ok {
				t.Errorf("compose.yaml: %s and %s both publish %s", other, name, h)
			}
			published[h] = name
		}
	}

	// A JetStream cluster, as nats-server parses its command line.
	wantMinor := natsServerMinor(t)
	clientPort := map[string]int{}
	clusterPort := map[string]int{}
	clusterNames := map[string]bool{}
	routes := map[string][]*url.URL{}
	for _, name := range natsNames {
		s := cf.Services[name]
		if m := natsImage.FindStringSubmatch(s.Image); m == nil {
			t.Errorf("compose.yaml: %s: image %s, want nats:X.Y[.Z]-alpine (alpine: wget for the healthcheck)", name, s.Image)
		} else if m[1] != wantMinor {
			t.Errorf("compose.yaml: %s: image %s, but the tests run nats-server %s (go.mod)", name, s.Image, wantMinor)
		}
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		noop := func() {}
		opts, err := server.ConfigureOptions(fs, s.Command, noop, noop, noop)
		if err != nil || opts == nil {
			t.Errorf("compose.yaml: %s: nats-server does not take its command %q: %v", name, s.Command, err)
			continue
		}
		if opts.ServerName != name {
			t.Errorf("compose.yaml: %s: --name %q, want the service's name (unique, required by JetStream)", name, opts.ServerName)
		}
		if !opts.JetStream {
			t.Errorf("compose.yaml: %s: no --jetstream", name)
		}
		if opts.StoreDir == "" || !slices.ContainsFunc(s.Volumes, func(v composetypes.ServiceVolumeConfig) bool { return v.Target == opts.StoreDir }) {
			t.Errorf("compose.yaml: %s: --store_dir %q is not a volume (%v)", name, opts.StoreDir, s.Volumes)
		}
		// (Its durations are parsed by the loader: docker-compose 1.29
		// takes any string there; the engine would not.)
		if opts.HTTPPort == 0 || s.HealthCheck == nil || !slices.Contains(s.HealthCheck.Test, fmt.Sprintf("http://127.0.0.1:%d/healthz", opts.HTTPPort)) {
			t.Errorf("compose.yaml: %s: healthcheck %v does not ask /healthz on the monitoring port (%d)", name, s.HealthCheck, opts.HTTPPort)
		}
		clusterNames[opts.Cluster.Name] = true
		clientPort[name] = cmp.Or(opts.Port, server.DEFAULT_PORT)
		clusterPort[name] = opts.Cluster.Port
		routes[name] = opts.Routes
	}
	if len(clusterNames) != 1 || clusterNames[""] {
		t.Errorf("compose.yaml: the servers' --cluster_name: %v, want one name", clusterNames)
	}
	for name, rs := range routes {
		got := []string{name}
		for _, r := range rs {
			host, port := r.Hostname(), r.Port()
			if p, ok := clusterPort[host]; !ok || strconv.Itoa(p) != port {
				t.Errorf("compose.yaml: %s: route %s is no other server's cluster address", name, r)
			}
			got = append(got, host)
		}
		slices.Sort(got)
		if !slices.Equal(slices.Compact(got), natsNames) {
			t.Errorf("compose.yaml: %s routes to %v, want each of %v", name, rs, natsNames)
		}
	}

	// The simulator, as `bridge crmsim` parses its flags (runCRMSim).
	simName := simNames[0]
	sim := cf.Services[simName]
	fs := flag.NewFlagSet("crmsim", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	simAddr := fs.String("addr", "127.0.0.1:8081", "")
	fs.String("log-format", "auto", "")
	var simOpts crmsim.Options
	simOpts.RegisterFlags(fs)
	var faults crmsim.Faults
	faults.RegisterFlags(fs)
	if err := fs.Parse(sim.Command[1:]); err != nil || fs.NArg() > 0 {
		t.Fatalf("compose.yaml: %s: bridge crmsim does not take %q: %v", simName, sim.Command[1:], err)
	}
	if s, err := crmsim.New(simOpts); err != nil {
		t.Errorf("compose.yaml: %s: %v", simName, err)
	} else if err := s.SetFaults(faults); err != nil {
		t.Errorf("compose.yaml: %s: %v", simName, err)
	}
	simHost, simPort, err := net.SplitHostPort(*simAddr)
	if err != nil || (simHost != "" && simHost != "0.0.0.0") {
		t.Errorf("compose.yaml: %s: --addr %s is not reachable from other containers", simName, *simAddr)
	}
	if !slices.Contains(containerPorts(sim), simPort) {
		t.Errorf("compose.yaml: %s: port %s is not published (ports %v)", simName, simPort, sim.Ports)
	}

	// The bridges, as `bridge run` reads its settings, over the image's ENV.
	names := settingNames(t)
	imageEnv := stageEnv(readDockerfile(t).final())
	for _, name := range bridgeNames {
		s := cf.Services[name]
		for k := range s.Environment {
			if !names[k] {
				t.Errorf("compose.yaml: %s: %s is no setting of the bridge (bridge run --help)", name, k)
			}
		}
		getenv := func(k string) string {
			if v, ok := s.Environment[k]; ok && v != nil {
				return *v
			}
			return imageEnv[k]
		}
		var args []string
		if len(s.Command) > 0 {
			args = s.Command[1:]
		}
		cfg, err := loadConfig(env{getenv: getenv, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}, "run", args, nil, nil)
		if err != nil {
			t.Errorf("compose.yaml: %s: %v", name, err)
			continue
		}
		if cfg.StreamReplicas != len(natsNames) {
			t.Errorf("compose.yaml: %s: BRIDGE_STREAM_REPLICAS %d, want %d, one per server", name, cfg.StreamReplicas, len(natsNames))
		}
		var natsHosts []string
		for _, u := range strings.Split(cfg.NATSURL, ",") {
			pu, err := url.Parse(strings.TrimSpace(u))
			if err != nil || clientPort[pu.Hostname()] == 0 || pu.Port() != strconv.Itoa(clientPort[pu.Hostname()]) {
				t.Errorf("compose.yaml: %s: BRIDGE_NATS_URL: %s is no server's client address", name, u)
				continue
			}
			natsHosts = append(natsHosts, pu.Hostname())
		}
		slices.Sort(natsHosts)
		if !slices.Equal(natsHosts, natsNames) {
			t.Errorf("compose.yaml: %s: BRIDGE_NATS_URL names %v, want each of %v", name, natsHosts, natsNames)
		}
		if u, err := url.Parse(cfg.CRMURL); err != nil || u.Hostname() != simName || u.Port() != simPort {
			t.Errorf("compose.yaml: %s: BRIDGE_CRM_URL %s, want the simulator's, http://%s:%s", name, cfg.CRMURL, simName, simPort)
		}
		if (simOpts.APIKey != "" && cfg.CRMAPIKey.Reveal() != simOpts.APIKey) || (simOpts.OrgID != "" && cfg.CRMOrgID != simOpts.OrgID) {
			t.Errorf("compose.yaml: %s: BRIDGE_CRM_API_KEY or BRIDGE_CRM_ORG_ID is not what the simulator takes (--api-key, --org-id)", name)
		}
		host, port, err := net.SplitHostPort(cfg.HTTPAddr)
		if err != nil || (host != "" && host != "0.0.0.0") {
			t.Errorf("compose.yaml: %s: BRIDGE_HTTP_ADDR %s is not reachable from outside the container", name, cfg.HTTPAddr)
		}
		if ports := containerPorts(s); len(ports) == 0 || slices.ContainsFunc(ports, func(p string) bool { return p != port }) {
			t.Errorf("compose.yaml: %s: ports %v, want BRIDGE_HTTP_ADDR's port %s published", name, s.Ports, port)
		}
		for _, n := range natsNames {
			if c := s.DependsOn[n].Condition; c != "service_healthy" {
				t.Errorf("compose.yaml: %s: depends_on %s: condition %q, want service_healthy (a meta leader, so that the streams can be made)", name, n, c)
			}
		}
		if _, ok := s.DependsOn[simName]; !ok {
			t.Errorf("compose.yaml: %s: does not depend on %s", name, simName)
		}
		if d := s.StopGracePeriod; d == nil || time.Duration(*d) <= stopTimeout {
			t.Errorf("compose.yaml: %s: stop_grace_period %v, want more than the bridge's stop timeout, %v (compose's default is 10s)", name, s.StopGracePeriod, stopTimeout)
		}
	}
}
