package bridge

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/internal/syncbuf"
	"github.com/gormic/crm-bridge/internal/tracing"
)

// Run starts the bridge, and stops it gracefully once its context ends.
func TestRunStopsWhenContextEnds(t *testing.T) {
	srv := natstest.Server(t)
	cfg := testConfig(t)
	cfg.NATSURL = srv.ClientURL()
	tp, err := tracing.Setup(context.Background(), func(string) string { return "" }, "test")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, tp) }()
	_, js := natstest.Connect(t, srv)
	eventually.True(t, 30*time.Second, "no stream "+streams.DLQ, func() bool {
		_, err := js.Stream(context.Background(), streams.DLQ)
		return err == nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("got %v, want nil", err)
		}
	case <-time.After(StopTimeout + 10*time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	for _, want := range []string{`"msg":"stopping"`, `"msg":"stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}
}
