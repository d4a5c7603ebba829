package bridge

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/crmsim/simtest"
	"github.com/gormic/crm-bridge/internal/deploytest"
	"github.com/gormic/crm-bridge/internal/natstest"
)

const (
	dashboardFile  = "../../deploy/grafana/crm-bridge.json"
	alertsFile     = "../../deploy/prometheus/alerts.yaml"
	alertTestsFile = "../../deploy/prometheus/alerts_test.yaml"
	operationsDoc  = "../../docs/operations.md"
)

// metricRef finds the names of the bridge's metrics, and the Go runtime's
// and the process's, in a PromQL expression.
var metricRef = regexp.MustCompile(`\b(?:crm_bridge|go|process)_[a-zA-Z0-9_]+\b`)

// Every metric the dashboard's queries and the alert rules name is one
// the bridge exports: MetricNames of a started, ready bridge.
func TestDeployNamesExportedMetrics(t *testing.T) {
	srv := natstest.Server(t)
	sim := simtest.Start(t, crmsim.Options{})
	cfg := testConfig(t)
	cfg.NATSURL = srv.ClientURL()
	cfg.CRMURL = sim.URL()
	b := start(t, cfg, 0)
	waitReady(t, b)
	exported := map[string]bool{}
	for _, name := range b.MetricNames() {
		exported[name] = true
	}
	if !exported["crm_bridge_commands_total"] || !exported["crm_bridge_poller_lag_seconds"] || !exported["go_goroutines"] {
		t.Fatalf("MetricNames lacks metrics /metrics serves: %v", b.MetricNames())
	}
	known := func(name string) bool {
		if exported[name] {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && exported[base] {
				return true
			}
		}
		return false
	}
	check := func(where, expr string) {
		t.Helper()
		names := metricRef.FindAllString(expr, -1)
		if len(names) == 0 {
			t.Errorf("%s: %q names no metric of the bridge", where, expr)
		}
		for _, name := range names {
			if !known(name) {
				t.Errorf("%s: %s is not a metric the bridge exports (expression %q)", where, name, expr)
			}
		}
	}
	exprs := dashboardExprs(t)
	if len(exprs) < 10 {
		t.Fatalf("found %d queries in %s", len(exprs), dashboardFile)
	}
	for where, expr := range exprs {
		check(dashboardFile+": "+where, expr)
	}
	for _, r := range alertRules(t) {
		check(alertsFile+": "+r.Alert, r.Expr)
	}
}

// Each alert has a runbook entry in docs/operations.md, where its
// runbook_url points, and a unit test in alerts_test.yaml that fires it.
func TestAlertsHaveRunbooksAndTests(t *testing.T) {
	doc, err := os.ReadFile(operationsDoc)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for line := range strings.Lines(string(doc)) {
		if title, ok := strings.CutPrefix(line, "### "); ok {
			anchors[strings.ToLower(strings.TrimSpace(title))] = true
		}
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	deploytest.ReadYAML(t, alertTestsFile, &tests)
	fired := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fired[a.Alertname] = true
			}
		}
	}
	rules := alertRules(t)
	if len(rules) < 5 {
		t.Fatalf("found %d alerts in %s", len(rules), alertsFile)
	}
	for _, r := range rules {
		want := "docs/operations.md#" + strings.ToLower(r.Alert)
		if got := r.Annotations["runbook_url"]; got != want {
			t.Errorf("%s: runbook_url %q, want %q", r.Alert, got, want)
		}
		if !anchors[strings.ToLower(r.Alert)] {
			t.Errorf("%s: no section \"### %s\" in docs/operations.md", r.Alert, r.Alert)
		}
		if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
			t.Errorf("%s: want a severity label and a summary", r.Alert)
		}
		if !fired[r.Alert] {
			t.Errorf("%s: no test in %s expects it to fire", r.Alert, alertTestsFile)
		}
	}
}

type alertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func alertRules(t *testing.T) []alertRule {
	t.Helper()
	var f struct {
		Groups []struct {
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	deploytest.ReadYAML(t, alertsFile, &f)
	var rules []alertRule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

// dashboardExprs returns every query of the dashboard, its panels' and its
// variables', by where it is.
func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	exprs := map[string]string{}
	for _, p := range d.Panels {
		for i, tg := range p.Targets {
			exprs[p.Title+" #"+string(rune('A'+i))] = tg.Expr
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("%s: variable %s: %v", dashboardFile, v.Name, err)
		}
		exprs["variable "+v.Name] = q.Query
	}
	for where, e := range exprs {
		if strings.TrimSpace(e) == "" {
			t.Errorf("%s: %s: empty query", dashboardFile, where)
		}
	}
	return exprs
}

// Every query of the dashboard is valid PromQL: promtool check rules
// parses them as recording rules, with Grafana's variables filled in.
// Without promtool (`make tools`) the test skips, unless CI is set.
func TestDashboardQueriesParse(t *testing.T) {
	promtool := deploytest.RequireTool(t, "promtool")
	fill := strings.NewReplacer("$__rate_interval", "5m", "$job", ".+")
	var rules []map[string]string
	for where, expr := range dashboardExprs(t) {
		if strings.HasPrefix(where, "variable ") {
			continue // label_values(...) is Grafana's, not PromQL
		}
		rules = append(rules, map[string]string{"record": "dashboard:query", "expr": fill.Replace(expr)})
	}
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Errorf("promtool check rules on the dashboard's queries: %v\n%s", err, out)
	}
}
