package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/crmsim/simtest"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/model"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/streams"
)

// permissionsFile is the NATS permissions of the three roles, as
// docs/operations.md includes it.
const permissionsFile = "../../deploy/nats/permissions.conf"

// roleConn is a connection as one role, which records the permission
// violations the server reports to it.
type roleConn struct {
	t  *testing.T
	nc *nats.Conn
	js jetstream.JetStream

	mu     sync.Mutex
	denied []string
}

func connectAs(t *testing.T, url, user string) *roleConn {
	t.Helper()
	r := &roleConn{t: t}
	nc, err := nats.Connect(url, nats.UserInfo(user, user+"-pw"), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			r.mu.Lock()
			r.denied = append(r.denied, err.Error())
			r.mu.Unlock()
		}
	}))
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	r.nc = nc
	if r.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return r
}

// wasDenied waits until the server has refused the role's publish to
// subject.
func (r *roleConn) wasDenied(subject string) {
	r.t.Helper()
	want := strings.ToLower(fmt.Sprintf("publish to %q", subject))
	eventually.True(r.t, 10*time.Second, "no permissions violation for a publish to "+subject, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, d := range r.denied {
			if strings.Contains(strings.ToLower(d), want) {
				return true
			}
		}
		return false
	})
}

// refusedPublish publishes to subject and checks that the server refuses
// it. (TestNATSPermissions checks at its end that nothing was stored.)
func (r *roleConn) refusedPublish(subject string, data []byte) {
	r.t.Helper()
	if err := r.nc.Publish(subject, data); err != nil {
		r.t.Fatal(err)
	}
	if err := r.nc.Flush(); err != nil {
		r.t.Fatal(err)
	}
	r.wasDenied(subject)
}

// TestNATSPermissions (issue 15, part 6) runs the bridge and the three
// roles of deploy/nats/permissions.conf, the file docs/operations.md
// shows, against a server that enforces it: everything each role needs
// works, and what it must not do is refused.
func TestNATSPermissions(t *testing.T) {
	perms, err := os.ReadFile(permissionsFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "crm-bridge-permissions.conf"), perms, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(`include "crm-bridge-permissions.conf"
authorization { users = [
  {user: bridge, password: bridge-pw, permissions: $CRM_BRIDGE}
  {user: publisher, password: publisher-pw, permissions: $CRM_PUBLISHER}
  {user: reader, password: reader-pw, permissions: $CRM_READER}
  {user: admin, password: admin-pw}
] }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := natstest.Start(t, embedded.Options{StoreDir: t.TempDir(), ConfigFile: conf})
	url := srv.ClientURL()
	admin := connectAs(t, url, "admin") // the test's own eyes; no role
	sim := simtest.Start(t, crmsim.Options{APIKey: "k", OrgID: "o", RandSeed: 3})
	w := &world{t: t, srv: srv, nc: admin.nc, js: admin.js, sim: sim, subj: streams.Subjects{Prefix: "crm"}}

	// The poller's state as a former version left it, in the bucket
	// crm_bridge_poller: the bridge migrates it into CRM_POLLER, which its
	// role allows (reading the bucket's stream).
	legacyState(t, admin.js)

	// The bridge makes its streams, consumers, buckets and leases, takes
	// commands and polls, as the bridge role.
	env := w.env()
	env["BRIDGE_NATS_USER"], env["BRIDGE_NATS_PASSWORD"] = "bridge", "bridge-pw"
	env["BRIDGE_POLL_INTERVAL"] = "1s"
	// Two processes: the second finds the streams and buckets made and
	// updates them, and shares partitions and the poller by leases.
	bridges := []*bridgeProc{startBridge(t, env), startBridge(t, env)}
	for _, b := range bridges {
		var addr string
		eventually.True(t, 30*time.Second, "the bridge's http listening line", func() bool {
			for line := range strings.Lines(b.logs()) {
				var m map[string]any
				if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "http listening" {
					addr, _ = m["addr"].(string)
					return true
				}
			}
			return false
		})
		waitReady(t, addr)
	}

	// The publisher publishes a command (Reply-To) and gets its result,
	// with `bridge publish`.
	pubEnv := map[string]string{"BRIDGE_NATS_URL": url, "BRIDGE_NATS_USER": "publisher", "BRIDGE_NATS_PASSWORD": "publisher-pw"}
	out, stderr, err := cli(t, pubEnv, "", "publish", "--id", "perm-1", "create", `{"firstName":"Pia","phone":"5550104"}`)
	if err != nil || !strings.HasPrefix(out, "applied create cus_") {
		t.Fatalf("publish as the publisher: got %q, %v (stderr %q), want applied", out, err, stderr)
	}
	id := strings.Fields(out)[2]
	// A duplicate reads the stored result from CRM_EVENTS, the fallback.
	out2, stderr, err := cli(t, pubEnv, "", "publish", "--id", "perm-1", "create", `{"firstName":"Pia","phone":"5550104"}`)
	if err != nil || out2 != out || !strings.Contains(stderr, "already published") {
		t.Fatalf("duplicate publish as the publisher: got %q, %v (stderr %q), want %q from CRM_EVENTS", out2, err, stderr, out)
	}

	// A command the CRM rejects: the bridge dead-letters it.
	if out, _, err := cli(t, pubEnv, "", "publish", "update", id, `{"gender":"X"}`); err == nil || !strings.HasPrefix(out, "rejected update "+id) {
		t.Fatalf("publish a bad update as the publisher: got %q, %v, want rejected", out, err)
	}
	// An update after the poller's first poll, which recorded the
	// customers as they were without events (the migrated state is not
	// initialized): the next poll finds it as a change. An update made
	// before that first poll would be part of what it recorded.
	eventually.True(t, 30*time.Second, "no poll done line", func() bool {
		for _, b := range bridges {
			if strings.Contains(b.logs(), `"msg":"poll done"`) {
				return true
			}
		}
		return false
	})
	if out, stderr, err := cli(t, pubEnv, "", "publish", "update", id, `{"lastName":"Perm"}`); err != nil || !strings.HasPrefix(out, "applied update "+id) {
		t.Fatalf("publish update as the publisher: got %q, %v (stderr %q), want applied", out, err, stderr)
	}

	// The reader follows the change events with a durable consumer.
	reader := connectAs(t, url, "reader")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	events, err := reader.js.CreateOrUpdateConsumer(ctx, streams.Events, jetstream.ConsumerConfig{
		Durable: "reader", FilterSubject: "crm.customer.changed.*", AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatalf("the reader's durable consumer: %v", err)
	}
	eventually.True(t, 30*time.Second, "the reader got no change event for "+id, func() bool {
		batch, err := events.Fetch(10, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return false
		}
		found := false
		for m := range batch.Messages() {
			if err := m.Ack(); err != nil {
				t.Errorf("ack as the reader: %v", err)
			}
			found = found || m.Subject() == w.subj.Changed(id)
		}
		return found
	})
	checkReaderModel(t, reader, admin, id)
	checkReaderQueries(t, reader, id)
	reader.mu.Lock()
	if len(reader.denied) > 0 {
		t.Errorf("the reader was refused what it needs: %q", reader.denied)
	}
	reader.mu.Unlock()

	// Refused: the reader publishes no command, writes no bucket, reads
	// no command; the publisher publishes no event or result and writes
	// no read model.
	reader.refusedPublish(w.subj.Create(), []byte(`{"firstName":"Eve","phone":"5550666"}`))
	reader.refusedPublish(w.subj.Delete(id), nil)
	reader.refusedPublish("$KV."+model.Bucket+"."+id, []byte(`{}`))
	reader.refusedPublish(w.subj.Result(), []byte(`{}`))
	reader.refusedPublish("crm.bridge.resync", nil) // an operator's
	publisher := connectAs(t, url, "publisher")
	publisher.refusedPublish(w.subj.Changed(id), []byte(`{}`))
	publisher.refusedPublish(w.subj.Result(), []byte(`{}`))
	publisher.refusedPublish("$KV."+model.Bucket+"."+id, []byte(`{}`))
	publisher.refusedPublish(w.subj.DLQ("create"), []byte(`{}`))
	for _, r := range []*roleConn{reader, publisher} {
		// Nor do they read commands, or purge what others rely on.
		short, cancel := context.WithTimeout(context.Background(), time.Second)
		if _, err := r.js.CreateOrUpdateConsumer(short, streams.Commands, jetstream.ConsumerConfig{Name: "peek", FilterSubject: "crm.customer.>"}); err == nil {
			t.Errorf("a role made a consumer of %s", streams.Commands)
		}
		cancel()
		r.wasDenied("$JS.API.CONSUMER.CREATE." + streams.Commands + ".peek.crm.customer.>")
		r.refusedPublish("$JS.API.STREAM.PURGE.KV_"+model.Bucket, nil)
	}
	// A reader's consumer must be filtered to change events.
	short, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	if _, err := reader.js.CreateOrUpdateConsumer(short, streams.Events, jetstream.ConsumerConfig{Durable: "all", FilterSubject: "crm.customer.>"}); err == nil {
		t.Error("the reader made a consumer of every event and result")
	}
	reader.wasDenied("$JS.API.CONSUMER.CREATE.CRM_EVENTS.all.crm.customer.>")

	// Nothing they were refused was stored, and the bridge was refused
	// nothing.
	if n := natstest.Count(admin.js, streams.Commands, "crm.customer.>"); n != 3 {
		t.Errorf("%s holds %d commands, want 3 (the publisher's)", streams.Commands, n)
	}
	if n := natstest.Count(admin.js, streams.Events, w.subj.Result()); n != 3 {
		t.Errorf("%s holds %d results, want 3", streams.Events, n)
	}
	if n := natstest.Count(admin.js, streams.DLQ, "crm.customer.dlq.>"); n != 1 {
		t.Errorf("%s holds %d dead letters, want 1 (the bridge's)", streams.DLQ, n)
	}
	if n := natstest.Count(admin.js, "CRM_POLLER", "crm.bridge.poller.state.c.gone"); n != 1 {
		t.Errorf("CRM_POLLER holds %d messages of the migrated delete marker, want 1", n)
	}
	migrated := 0
	for _, b := range bridges {
		if strings.Contains(b.logs(), "poller state migrated") {
			migrated++
		}
	}
	if migrated != 1 {
		t.Errorf("%d bridges migrated the poller's state, want 1", migrated)
	}
	for _, b := range bridges {
		if logs := b.logs(); strings.Contains(strings.ToLower(logs), "permissions violation") {
			t.Errorf("a bridge was refused something:\n%s", logs)
		}
	}
}

// checkReaderModel reads the customer id from the read model CRM_CUSTOMERS
// as the reader (kv get, kv watch), where the bridge put it under its
// role, and checks that the reader cannot write it.
func checkReaderModel(t *testing.T, reader, admin *roleConn, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key := model.Key(id)
	kv, err := reader.js.KeyValue(ctx, model.Bucket)
	if err != nil {
		t.Fatalf("kv %s as the reader: %v", model.Bucket, err)
	}
	var got []byte
	eventually.True(t, 30*time.Second, "kv get "+key+" as the reader", func() bool {
		e, err := kv.Get(ctx, key)
		if err != nil {
			return false
		}
		got = e.Value()
		return true
	})
	var rec struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(got, &rec); err != nil || rec.ID != id {
		t.Errorf("kv get %s as the reader: got %s, want the record of %s", key, got, id)
	}
	watch, err := kv.WatchAll(ctx)
	if err != nil {
		t.Fatalf("kv watch %s as the reader: %v", model.Bucket, err)
	}
	defer func() { _ = watch.Stop() }()
	seen := false
	for e := range watch.Updates() {
		if e == nil {
			break // every current record seen
		}
		seen = seen || e.Key() == key
	}
	if !seen {
		t.Errorf("kv watch %s as the reader: no %s", model.Bucket, key)
	}
}

// checkReaderQueries asks the crm-bridge service's queries as the reader:
// get, find, list, and $SRV discovery. Where no bridge serves them yet
// (another branch's), the server answers "no responders", which shows
// that the reader may ask (a refused request gets no answer at all).
func checkReaderQueries(t *testing.T, reader *roleConn, id string) {
	t.Helper()
	queries := []struct{ subject, body string }{
		{"crm.customer.get." + streams.EncodeToken(id), ""},
		{"crm.customer.find", `{"phone":"5550104"}`},
		{"crm.customer.list", `{"limit":10}`},
		{"$SRV.PING.crm-bridge", ""},
		{"$SRV.INFO.crm-bridge", ""},
	}
	for _, q := range queries {
		m, err := reader.nc.Request(q.subject, []byte(q.body), 10*time.Second)
		switch {
		case err != nil:
			t.Errorf("%s as the reader: %v", q.subject, err)
		case m.Header.Get("Nats-Service-Error-Code") != "":
			t.Errorf("%s as the reader: %s %s", q.subject, m.Header.Get("Nats-Service-Error-Code"), m.Data)
		case !strings.HasPrefix(q.subject, "$SRV") && !strings.Contains(string(m.Data), id):
			t.Errorf("%s as the reader: got %s, want %s in it", q.subject, m.Data, id)
		}
	}
}

// TestPermissionsDocumentedVerbatim: docs/operations.md shows
// deploy/nats/permissions.conf as it is, the file TestNATSPermissions
// enforces, so that the two cannot drift apart.
func TestPermissionsDocumentedVerbatim(t *testing.T) {
	perms, err := os.ReadFile(permissionsFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```text\n"+string(perms)+"```\n") {
		t.Errorf("docs/operations.md does not show %s verbatim in a text block", permissionsFile)
	}
}

// legacyState writes, as the admin, the poller's state of a former version
// that had not recorded its first start yet: the bucket crm_bridge_poller
// with its cursor and a delete marker.
func legacyState(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "crm_bridge_poller", History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "cursor", []byte(`{"initialized":false}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "c.gone", []byte(`{"id":"gone"}`)); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "c.gone"); err != nil {
		t.Fatal(err)
	}
}
