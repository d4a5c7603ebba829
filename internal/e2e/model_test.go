package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gormic/crm-bridge/internal/model"
	"github.com/gormic/crm-bridge/internal/queries/querytest"
)

// checkModel waits until the read model (CRM_CUSTOMERS) holds exactly the
// CRM's customers, each with its record as the CRM has it now (updatedAt,
// updatedBy and updatedVia aside, as in the events: the CRM may touch a
// customer after the last poll), and says it is filled. A record too
// large for one NATS message is the model's stub for it.
func (w *world) checkModel() {
	w.t.Helper()
	if err := retry(time.Minute, 2*time.Second, w.compareModel); err != nil {
		w.t.Error(err)
		return
	}
	w.t.Logf("read model: %d customers, each as the CRM has it", len(w.sim.Customers()))
}

func (w *world) compareModel() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := w.js.KeyValue(ctx, model.Bucket)
	if err != nil {
		return fmt.Errorf("read model: %w", err)
	}
	status, err := w.js.KeyValue(ctx, model.StatusBucket)
	if err != nil {
		return fmt.Errorf("read model status: %w", err)
	}
	st, err := model.ReadStatus(ctx, status)
	if err != nil {
		return err
	}
	if !st.Filled {
		return fmt.Errorf("read model status %+v: got not filled, want filled", st)
	}
	got, err := querytest.Records(ctx, kv)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range w.sim.Customers() {
		want, _ := json.Marshal(c)
		v, ok := got[c.ID]
		delete(got, c.ID)
		var stub struct {
			ID        string `json:"id"`
			Truncated bool   `json:"truncated"`
		}
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("read model: customer %s is in the CRM, not in the model", c.ID))
		case json.Unmarshal(v, &stub) == nil && stub.Truncated:
			if stub.ID != c.ID || len(want) <= int(w.nc.MaxPayload()) {
				errs = append(errs, fmt.Errorf("read model: customer %s: stub %s for a %d-byte record", c.ID, v, len(want)))
			}
		case normal(v) != normal(want):
			errs = append(errs, fmt.Errorf("read model: customer %s: got %s, want %s", c.ID, normal(v), normal(want)))
		}
	}
	for id := range got {
		errs = append(errs, fmt.Errorf("read model: customer %s is in the model, not in the CRM", id))
	}
	if len(errs) > 10 {
		errs = append(errs[:10], fmt.Errorf("... %d problems in all", len(errs)))
	}
	return errors.Join(errs...)
}
