package queries

import (
	"slices"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/eventually"
)

// TestIndexLoadsWhileModelFills: while the model fills (no status saying
// it is filled), the index that follows it keeps loading unsorted and
// nothing answers from it (NOT_READY); once the status says filled, it
// is sorted and answers with every record it was given, the changes of
// the fill included.
func TestIndexLoadsWhileModelFills(t *testing.T) {
	w := newWorld(t, embedded.Options{})
	s := w.serve(t, Config{})
	w.put(t, "cus_2", record("cus_2", "Bob", "5550199", "bob@example.com"))
	w.put(t, "cus_1", record("cus_1", "Ada", "5550100", "ada@example.com"))
	w.put(t, "cus_1", record("cus_1", "Ada", "5550111", "ada@new.example"))
	w.put(t, "cus_3", record("cus_3", "Cy", "5550133", "cy@example.com"))
	if err := w.customers.Delete(ctx(t), "cus_2"); err != nil {
		t.Fatal(err)
	}
	if a := w.ask(t, "crm.customer.find", `{"phone":"5550111"}`); a.errCode != "NOT_READY" {
		t.Fatalf("find while filling: got %q %q, want NOT_READY", a.code, a.errCode)
	}
	if x := s.index.Load(); x != nil {
		t.Fatalf("while filling: got an index of %d in use, want none", x.Len())
	}
	w.fill(t, time.Now())
	eventually.True(t, 10*time.Second, "the index in use once filled", func() bool { return s.index.Load() != nil })
	find := func(body string) []string { return w.ask(t, "crm.customer.find", body).ok(t).ids(t) }
	eventually.True(t, 10*time.Second, "every record indexed", func() bool { return s.index.Load().Len() == 2 })
	if got := find(`{"phone":"5550111"}`); !slices.Equal(got, []string{"cus_1"}) {
		t.Errorf("new phone: got %q, want cus_1", got)
	}
	if got := find(`{"phone":"5550100"}`); len(got) != 0 {
		t.Errorf("old phone: got %q, want none", got)
	}
	if got := w.ask(t, "crm.customer.list", "").ok(t).ids(t); !slices.Equal(got, []string{"cus_1", "cus_3"}) {
		t.Errorf("list: got %q, want [cus_1 cus_3]", got)
	}
}
