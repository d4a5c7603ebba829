package main

// The Helm chart (deploy/helm/crm-bridge, docs/deploy.md), checked
// against the code: every setting of internal/config is a value and in the
// schema, and what `helm template` renders, with the default values and
// with ci/full-values.yaml, runs the bridge as docs/deploy.md says. The
// renders need helm (`make tools`); without it these tests skip, unless CI
// is set.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/gormic/crm-bridge/internal/config"
	"github.com/gormic/crm-bridge/internal/deploytest"
)

const chartDir = "../../deploy/helm/crm-bridge"

// The values every render needs (docs/deploy.md): without them the chart
// refuses to render.
var requiredValues = []string{
	"--set", "config.crmUrl=https://crm.example.com",
	"--set", "config.crmOrgId=acme",
	"--set", "config.crmApiKey.value=" + testAPIKey,
}

const testAPIKey = "k3y-never-in-plain-env"

// chartKey is the chart's value for a setting: BRIDGE_CRM_API_KEY_FILE is
// config.crmApiKeyFile.
func chartKey(env string) string {
	words := strings.Split(strings.ToLower(strings.TrimPrefix(env, "BRIDGE_")), "_")
	for i := 1; i < len(words); i++ {
		words[i] = strings.ToUpper(words[i][:1]) + words[i][1:]
	}
	return strings.Join(words, "")
}

// settingDefaults returns every setting with its default as `bridge run
// --help` prints it ("" for none).
func settingDefaults(t *testing.T) map[string]string {
	t.Helper()
	var b bytes.Buffer
	config.PrintUsage(&b)
	defs := map[string]string{}
	for line := range strings.Lines(b.String()) {
		if f := strings.Fields(line); len(f) >= 3 && strings.HasPrefix(f[1], "BRIDGE_") {
			defs[f[1]] = strings.TrimPrefix(f[2], "-")
		}
	}
	if len(defs) != len(settingNames(t)) {
		t.Fatalf("read %d defaults from config.PrintUsage, want one per setting", len(defs))
	}
	return defs
}

// Values the chart sets differently from the bridge, and why.
var chartOwnDefaults = map[string]string{
	"natsUrl":   "a chart deployment needs an external NATS (the embedded one would write to a read-only filesystem)",
	"httpAddr":  "the probes and scrapes come from outside the pod",
	"logFormat": "a pod's logs are collected as JSON",
}

func TestChartHasEverySetting(t *testing.T) {
	var values struct {
		Config map[string]any `yaml:"config"`
	}
	deploytest.ReadYAML(t, filepath.Join(chartDir, "values.yaml"), &values)
	var schema struct {
		Properties struct {
			Config struct {
				Properties           map[string]json.RawMessage `json:"properties"`
				AdditionalProperties *bool                      `json:"additionalProperties"`
			} `json:"config"`
		} `json:"properties"`
	}
	b, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
	sc := schema.Properties.Config
	if sc.AdditionalProperties == nil || *sc.AdditionalProperties {
		t.Errorf("values.schema.json: config must set additionalProperties: false, so that a misspelt setting fails")
	}
	defs := settingDefaults(t)
	keys := map[string]bool{}
	for env, def := range defs {
		key := chartKey(env)
		keys[key] = true
		v, ok := values.Config[key]
		if !ok {
			t.Errorf("values.yaml: no config.%s for %s", key, env)
		}
		if _, ok := sc.Properties[key]; !ok {
			t.Errorf("values.schema.json: no config.%s for %s", key, env)
		}
		if _, own := chartOwnDefaults[key]; own || v == nil || v == "" {
			continue
		}
		if _, isMap := v.(map[string]any); isMap {
			continue
		}
		if got := scalarString(v); got != def {
			t.Errorf("values.yaml: config.%s is %q, want the bridge's default %q (or empty), or a reason in chartOwnDefaults", key, got, def)
		}
	}
	for key := range values.Config {
		if !keys[key] {
			t.Errorf("values.yaml: config.%s is no setting of internal/config", key)
		}
	}
	for key := range sc.Properties {
		if !keys[key] {
			t.Errorf("values.schema.json: config.%s is no setting of internal/config", key)
		}
	}
}

func TestChartRendersDefaults(t *testing.T) {
	docs := helmTemplate(t, requiredValues...)
	dep := one(t, docs, "Deployment")
	if got := dig(dep, "spec", "replicas"); got != 2 {
		t.Errorf("replicas: got %v, want 2", got)
	}
	pod := dig(dep, "spec", "template", "spec").(map[string]any)
	c := container(t, dep)
	checkPod(t, pod, c)

	// The key: a file from the chart's own Secret, never a plain variable.
	env := envOf(t, c)
	secret := one(t, docs, "Secret")
	secretName := dig(secret, "metadata", "name")
	data := dig(secret, "data").(map[string]any)
	enc, ok := data["crm-api-key"].(string)
	if !ok {
		t.Fatalf("Secret %s: no crm-api-key in %v", secretName, data)
	}
	if got, _ := base64.StdEncoding.DecodeString(enc); string(got) != testAPIKey {
		t.Errorf("Secret %s: crm-api-key is %q, want %q", secretName, got, testAPIKey)
	}
	checkKeyFile(t, pod, c, env, secretName.(string), "crm-api-key")
	if _, ok := dig(dep, "spec", "template", "metadata", "annotations").(map[string]any)["checksum/secret"]; !ok {
		t.Errorf("Deployment: no checksum/secret annotation: a new key would not restart the pods")
	}

	pdb := one(t, docs, "PodDisruptionBudget")
	if got := dig(pdb, "spec", "maxUnavailable"); got != 1 {
		t.Errorf("PodDisruptionBudget: maxUnavailable %v, want 1", got)
	}
	checkSelects(t, "PodDisruptionBudget", dig(pdb, "spec", "selector", "matchLabels"), dep)
	svc := one(t, docs, "Service")
	checkSelects(t, "Service", dig(svc, "spec", "selector"), dep)
	if dig(svc, "spec", "publishNotReadyAddresses") != true {
		t.Errorf("Service: publishNotReadyAddresses is not true: a pod that is not ready would not be scraped")
	}
	if got := dig(svc, "spec", "ports").([]any)[0].(map[string]any)["targetPort"]; got != "http" {
		t.Errorf("Service: targetPort %v, want http", got)
	}
	if n := count(docs, "ServiceMonitor"); n != 0 {
		t.Errorf("%d ServiceMonitors, want none by default", n)
	}

	// What the bridge reads from this environment.
	cfg := loadEnv(t, env)
	if cfg.CRMURL != "https://crm.example.com" || cfg.CRMOrgID != "acme" || cfg.CRMAPIKey.Reveal() != testAPIKey {
		t.Errorf("the bridge reads crm %q org %q, want the values given, and the key from its file", cfg.CRMURL, cfg.CRMOrgID)
	}
	if cfg.NATSURL != "nats://nats:4222" {
		t.Errorf("BRIDGE_NATS_URL: got %q, want nats://nats:4222", cfg.NATSURL)
	}
}

func TestChartRendersFullValues(t *testing.T) {
	docs := helmTemplate(t, "-f", filepath.Join(chartDir, "ci", "full-values.yaml"))
	dep := one(t, docs, "Deployment")
	if got := dig(dep, "spec", "replicas"); got != 3 {
		t.Errorf("replicas: got %v, want 3", got)
	}
	pod := dig(dep, "spec", "template", "spec").(map[string]any)
	c := container(t, dep)
	checkPod(t, pod, c)
	if got := dig(pod, "terminationGracePeriodSeconds"); got != 60 {
		t.Errorf("terminationGracePeriodSeconds: got %v, want 60", got)
	}
	if n := count(docs, "Secret"); n != 0 {
		t.Errorf("%d Secrets rendered, want none: the key is in an existing Secret", n)
	}
	env := envOf(t, c)
	checkKeyFile(t, pod, c, env, "crm-credentials", "api-key")
	checkKeyFile(t, pod, c, env, "bridge-nats", "bridge.creds")
	checkKeyFile(t, pod, c, env, "nats-ca", "ca.crt")
	sm := one(t, docs, "ServiceMonitor")
	if got := dig(sm, "spec", "endpoints").([]any)[0].(map[string]any)["interval"]; got != "15s" {
		t.Errorf("ServiceMonitor: interval %v, want 15s", got)
	}
	if got := dig(sm, "metadata", "labels").(map[string]any)["release"]; got != "prometheus" {
		t.Errorf("ServiceMonitor: label release %v, want prometheus", got)
	}
	if got := dig(one(t, docs, "Service"), "spec", "ports").([]any)[0].(map[string]any)["port"]; got != 9090 {
		t.Errorf("Service: port %v, want 9090", got)
	}
	if ref := secretRef(c, "BRIDGE_NATS_PASSWORD"); ref["name"] != "bridge-nats" || ref["key"] != "password" {
		t.Errorf("BRIDGE_NATS_PASSWORD: secretKeyRef %v, want bridge-nats's password", ref)
	}
	if env["SSL_CERT_FILE"] != "/etc/crm-ca/ca.crt" {
		t.Errorf("extraEnv: SSL_CERT_FILE is %q", env["SSL_CERT_FILE"])
	}

	cfg := loadEnv(t, env)
	want := config.Default()
	want.NATSUser = "bridge"
	want.NATSURL = "tls://nats-0.nats:4222,tls://nats-1.nats:4222,tls://nats-2.nats:4222"
	want.StreamReplicas = 3
	want.CRMURL = "https://crm.example.com"
	want.CRMOrgID = "acme"
	want.CRMRate = 12.5
	want.CRMTimeout = 5e9
	want.SubjectPrefix = "acme-crm"
	want.Concurrency = 32
	want.RetryMaxElapsed = 30 * 60e9
	want.PollInterval = 5e9
	want.ReconcileInterval = 30 * 60e9
	want.PollerInitialEvents = true
	want.HTTPAddr = "[::]:9090"
	want.LogFormat = "text"
	want.LogLevel = -4
	want.NATSTLSCert = "/var/run/secrets/crm-bridge/nats-tls-cert/tls.crt"
	want.NATSTLSKey = "/var/run/secrets/crm-bridge/nats-tls-key/tls.key"
	// Files the test does not have.
	cfg.CRMAPIKey, cfg.CRMAPIKeyFile, cfg.NATSCreds, cfg.NATSTLSCA = "", "", "", ""
	if cfg != want {
		t.Errorf("the bridge reads\n%+v\nwant\n%+v", cfg, want)
	}
}

// A render that would run a bridge wrongly fails, naming what is wrong.
func TestChartRefusesBadValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no values", nil, "config.crmUrl"},
		{"no key", []string{"--set", "config.crmUrl=https://crm.example.com", "--set", "config.crmOrgId=acme"}, "API key is required"},
		{"key as a plain value", []string{"--set", "config.crmUrl=https://crm.example.com", "--set", "config.crmOrgId=acme", "--set", "config.crmApiKey=plain"}, "crmApiKey"},
		{"loopback http address", append([]string{"--set", "config.httpAddr=127.0.0.1:8080"}, requiredValues...), "httpAddr"},
		{"misspelt setting", append([]string{"--set", "config.pollIntervall=5s"}, requiredValues...), "pollIntervall"},
		{"grace period below the bridge's stop", append([]string{"--set", "terminationGracePeriodSeconds=20"}, requiredValues...), "terminationGracePeriodSeconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runHelm(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %s", err, tc.want)
			}
			t.Log(err)
		})
	}
}

// checkPod checks what every render must hold: non-root, read-only, with
// resource requests, both probes on the bridge's paths, the grace period,
// and an HTTP address reachable from outside the pod.
func checkPod(t *testing.T, pod, c map[string]any) {
	t.Helper()
	if dig(pod, "securityContext", "runAsNonRoot") != true {
		t.Errorf("pod securityContext: runAsNonRoot is not true")
	}
	if dig(c, "securityContext", "readOnlyRootFilesystem") != true || dig(c, "securityContext", "allowPrivilegeEscalation") != false {
		t.Errorf("container securityContext %v: want readOnlyRootFilesystem true and allowPrivilegeEscalation false", c["securityContext"])
	}
	if req, _ := dig(c, "resources", "requests").(map[string]any); req["cpu"] == nil || req["memory"] == nil {
		t.Errorf("resources: requests %v, want cpu and memory", req)
	}
	if got := dig(c, "livenessProbe", "httpGet", "path"); got != "/healthz" {
		t.Errorf("livenessProbe path %v, want /healthz (never /readyz: it answers 503 while the CRM is down)", got)
	}
	if got := dig(c, "readinessProbe", "httpGet", "path"); got != "/readyz" {
		t.Errorf("readinessProbe path %v, want /readyz", got)
	}
	grace, _ := dig(pod, "terminationGracePeriodSeconds").(int)
	if float64(grace) <= stopTimeout.Seconds() {
		t.Errorf("terminationGracePeriodSeconds %v, want more than the bridge's stop, %v", grace, stopTimeout)
	}
	env := envOf(t, c)
	if _, ok := env["BRIDGE_CRM_API_KEY"]; ok {
		t.Errorf("BRIDGE_CRM_API_KEY is in the environment: the key must come from a file")
	}
	for _, e := range c["env"].([]any) {
		e := e.(map[string]any)
		if v, _ := e["value"].(string); strings.Contains(v, testAPIKey) {
			t.Errorf("env %v holds the API key", e["name"])
		}
		if name := e["name"].(string); strings.HasPrefix(name, "BRIDGE_") && !settingNames(t)[name] {
			t.Errorf("env %s is no setting of internal/config", name)
		}
	}
	host, port, err := net.SplitHostPort(env["BRIDGE_HTTP_ADDR"])
	if err != nil || (host != "" && host != "0.0.0.0" && host != "::") {
		t.Errorf("BRIDGE_HTTP_ADDR %q: want every address, for the probes", env["BRIDGE_HTTP_ADDR"])
	}
	ports := c["ports"].([]any)
	if got := ports[0].(map[string]any)["containerPort"]; strconv.Itoa(asInt(got)) != port || ports[0].(map[string]any)["name"] != "http" {
		t.Errorf("container port %v, want BRIDGE_HTTP_ADDR's %s named http", ports, port)
	}
}

// checkKeyFile checks that the setting whose value ends in /key is a file
// mounted from the Secret secretName's key.
func checkKeyFile(t *testing.T, pod, c map[string]any, env map[string]string, secretName, key string) {
	t.Helper()
	var path string
	for name, v := range env {
		if strings.HasPrefix(name, "BRIDGE_") && strings.HasSuffix(v, "/"+key) {
			path = v
		}
	}
	if path == "" {
		t.Errorf("no BRIDGE_ setting names a file %s of Secret %s: %v", key, secretName, env)
		return
	}
	for _, m := range c["volumeMounts"].([]any) {
		m := m.(map[string]any)
		if filepath.Join(m["mountPath"].(string), key) != path {
			continue
		}
		for _, v := range pod["volumes"].([]any) {
			v := v.(map[string]any)
			if v["name"] == m["name"] && dig(v, "secret", "secretName") == secretName {
				if items, _ := dig(v, "secret", "items").([]any); len(items) != 1 || items[0].(map[string]any)["key"] != key {
					t.Errorf("volume %v: items %v, want %s", v["name"], items, key)
				}
				return
			}
		}
	}
	t.Errorf("%s: mounted from no volume of Secret %s", path, secretName)
}

func checkSelects(t *testing.T, what string, selector any, dep map[string]any) {
	t.Helper()
	labels := dig(dep, "spec", "template", "metadata", "labels").(map[string]any)
	sel, _ := selector.(map[string]any)
	if len(sel) == 0 {
		t.Errorf("%s: empty selector", what)
	}
	for k, v := range sel {
		if labels[k] != v {
			t.Errorf("%s: selector %s=%v does not select the pods (%v)", what, k, v, labels)
		}
	}
}

// loadEnv reads a Config from a container's environment as `bridge run`
// does, with the files it names replaced: the CRM key file by one holding
// testAPIKey.
func loadEnv(t *testing.T, env map[string]string) config.Config {
	t.Helper()
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(testAPIKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(flag.NewFlagSet("run", flag.ContinueOnError), nil, func(k string) string {
		if k == "BRIDGE_CRM_API_KEY_FILE" && env[k] != "" {
			return keyFile
		}
		return env[k]
	})
	if err != nil {
		t.Fatalf("the bridge cannot read the rendered environment: %v", err)
	}
	return cfg
}

// helmTemplate renders the chart and returns its documents.
func helmTemplate(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	out, err := runHelm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("helm template output: %v", err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
	return docs
}

// runHelm runs `helm template` on the chart with args, and returns its
// output, or an error with its stderr.
func runHelm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	helm := deploytest.RequireTool(t, "helm")
	cmd := exec.Command(helm, append([]string{"template", "rel", chartDir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, errors.New(strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func one(t *testing.T, docs []map[string]any, kind string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, d := range docs {
		if d["kind"] == kind {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		t.Fatalf("rendered %d of kind %s, want 1", len(found), kind)
	}
	return found[0]
}

func count(docs []map[string]any, kind string) int {
	n := 0
	for _, d := range docs {
		if d["kind"] == kind {
			n++
		}
	}
	return n
}

func container(t *testing.T, dep map[string]any) map[string]any {
	t.Helper()
	cs, _ := dig(dep, "spec", "template", "spec", "containers").([]any)
	if len(cs) != 1 {
		t.Fatalf("Deployment: %d containers, want 1", len(cs))
	}
	return cs[0].(map[string]any)
}

// envOf returns a container's plain variables; one from a Secret
// (valueFrom) maps to "".
func envOf(t *testing.T, c map[string]any) map[string]string {
	t.Helper()
	env := map[string]string{}
	list, _ := c["env"].([]any)
	for _, e := range list {
		e := e.(map[string]any)
		name := e["name"].(string)
		if _, dup := env[name]; dup {
			t.Errorf("env %s set twice", name)
		}
		v, _ := e["value"].(string)
		env[name] = v
	}
	return env
}

// secretRef returns the secretKeyRef of a container's variable, or nil.
func secretRef(c map[string]any, name string) map[string]any {
	for _, e := range c["env"].([]any) {
		if e := e.(map[string]any); e["name"] == name {
			ref, _ := dig(e, "valueFrom", "secretKeyRef").(map[string]any)
			return ref
		}
	}
	return nil
}

// dig returns the value at path in nested maps, or nil.
func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func asInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case float64:
		return int(n)
	}
	return -1
}

// scalarString writes a YAML scalar as `bridge run --help` writes
// defaults.
func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return ""
}
