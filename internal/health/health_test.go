package health

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestReadyz(t *testing.T) {
	var h Health
	natsUp := false
	h.Check("nats", func() error {
		if !natsUp {
			return errors.New("disconnected")
		}
		return nil
	})
	h.Set("streams", errors.New("not created yet"))

	get := func() (int, Status) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var st Status
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Fatalf("body %q: %v", rec.Body, err)
		}
		return rec.Code, st
	}
	code, st := get()
	if code != http.StatusServiceUnavailable || st.Ready {
		t.Errorf("got %d ready=%v, want 503 not ready", code, st.Ready)
	}
	if got, want := st.NotReady(), []string{"nats", "streams"}; !slices.Equal(got, want) {
		t.Errorf("got not ready %v, want %v", got, want)
	}
	if got := st.Parts["streams"]; got != "not created yet" {
		t.Errorf("got reason %q, want %q", got, "not created yet")
	}

	natsUp = true
	h.Set("streams", nil)
	code, st = get()
	if code != http.StatusOK || !st.Ready || st.Parts["nats"] != "ok" {
		t.Errorf("got %d %+v, want 200 ready", code, st)
	}
}

func TestLive(t *testing.T) {
	rec := httptest.NewRecorder()
	Live(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("got %d, want 200", rec.Code)
	}
}
