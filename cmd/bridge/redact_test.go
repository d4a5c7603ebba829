package main

import (
	"strings"
	"testing"

	"github.com/gormic/crm-bridge/internal/config"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/natstest"
)

// secretURLs turns a NATS URL (nats://host:port) into a list that carries
// a password and a token, as BRIDGE_NATS_URL may: nothing may print them.
func secretURLs(url string) string {
	hostPort := strings.TrimPrefix(url, "nats://")
	return "nats://u:s3cret-pw@" + hostPort + ",nats://s3cret-token@" + hostPort
}

func assertNoURLSecret(t *testing.T, what, text string) {
	t.Helper()
	if strings.Contains(text, "s3cret") {
		t.Errorf("%s: got %q, want no password or token of a URL", what, text)
	}
	if !strings.Contains(text, "xxxxx") {
		t.Errorf("%s: got %q, want the URL shown with xxxxx for its secrets", what, text)
	}
}

// TestClientsNeverEchoURLSecrets: publish, watch and dlq name the NATS URL
// they use in their messages, without the passwords or tokens it carries,
// also when BRIDGE_NATS_URL is a list.
func TestClientsNeverEchoURLSecrets(t *testing.T) {
	down := map[string]string{"BRIDGE_NATS_URL": secretURLs("nats://127.0.0.1:1")}
	for _, args := range [][]string{{"publish", "delete", "cus_1"}, {"watch"}, {"dlq", "list"}} {
		_, stderr, err := cli(t, down, "", args...)
		if err == nil || !strings.Contains(err.Error(), "cannot reach NATS at") {
			t.Fatalf("%s: got %v, want an error naming where NATS was looked for", args[0], err)
		}
		assertNoURLSecret(t, args[0], err.Error()+stderr)
	}

	noStreams := natstest.Server(t)
	_, _, err := cli(t, map[string]string{"BRIDGE_NATS_URL": secretURLs(noStreams.ClientURL())}, "", "publish", "delete", "cus_1")
	if err == nil || !strings.Contains(err.Error(), "has a bridge run against") {
		t.Fatalf("publish without streams: got %v, want it to name the NATS it used", err)
	}
	assertNoURLSecret(t, "publish without streams", err.Error())

	vars, _ := clientStreams(t, embedded.Options{})
	w := startWatch(t, map[string]string{"BRIDGE_NATS_URL": secretURLs(vars["BRIDGE_NATS_URL"])})
	assertNoURLSecret(t, "watch", w.stderr.String())
}

// TestBannerNeverEchoesURLSecrets: the dev banner, which also prints the
// BRIDGE_NATS_URL to export, and natsDesc, which the "crm-bridge starting"
// log line uses, hide passwords and tokens.
func TestBannerNeverEchoesURLSecrets(t *testing.T) {
	cfg := config.Default()
	cfg.NATSURL = secretURLs("nats://10.0.0.1:4222") + ", " + secretURLs("nats://10.0.0.2:4222")
	cfg.CRMURL = "https://s3cret-token@crm.example.com"
	var out strings.Builder
	banner(&out, cfg, "", 4222)
	assertNoURLSecret(t, "banner", out.String())
	assertNoURLSecret(t, "natsDesc", natsDesc(cfg))
}
