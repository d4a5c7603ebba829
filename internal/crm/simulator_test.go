package crm_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/crmsim/simtest"
	"github.com/gormic/crm-bridge/internal/crmspec"
)

// TestAgainstSimulator runs the client against the CRM simulator over
// real HTTP: all six operations and every functional error, with every
// request and every answer checked against the OpenAPI document on the
// way (crmspec.Transport) and by the simulator itself.
func TestAgainstSimulator(t *testing.T) {
	sim := simtest.Start(t, crmsim.Options{APIKey: "k", OrgID: "o", PageSize: 3})
	v, err := crmspec.NewValidator(crmspec.Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	tr := &crmspec.Transport{Base: crm.NewTransport(crm.Config{}), Validator: v}
	c, err := crm.New(crm.Config{BaseURL: sim.URL(), APIKey: "k", OrgID: "o", Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	start := sim.Now().Add(-time.Second)
	id, err := c.Create(ctx, crm.CreateParams{FirstName: "Ada", Phone: "+1 555 0100", LastName: crm.Null[string](),
		Email: ptr("ada@example.com"), Gender: ptr("F"), BirthDate: ptr("1815-12-10"), InternalNote: crm.Some("vip")})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	for i := range 5 {
		if _, err := c.Create(ctx, crm.CreateParams{FirstName: "N", Phone: "555 020" + string(rune('0'+i))}); err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	got, err := c.Get(ctx, id)
	if err != nil || got.ID != id || got.FirstName != "Ada" || got.LastName != nil || got.InternalNote == nil || len(got.Gender) == 0 {
		t.Fatalf("get: got %+v, %v", got, err)
	}
	if err := c.Update(ctx, id, crm.UpdateParams{Email: ptr("ada@lovelace.example"), CityID: crm.Some("c-1"), InternalNote: crm.Null[string]()}); err != nil {
		t.Fatalf("update: %v", err)
	}
	got, _ = c.Get(ctx, id)
	if got.Email != "ada@lovelace.example" || got.CityID == nil || *got.CityID != "c-1" || got.InternalNote != nil {
		t.Errorf("after update: got %+v", got)
	}
	if err := c.Update(ctx, id, crm.UpdateParams{CityID: crm.Null[string]()}); err != nil {
		t.Fatalf("update clearing cityId: %v", err)
	}
	if list, err := c.List(ctx); err != nil || len(list.Users) == 0 {
		t.Errorf("list: got %d users, %v", len(list.Users), err)
	}
	var exported []crm.Customer
	for page, err := range c.Export(ctx, start) {
		if err != nil {
			t.Fatalf("export: %v", err)
		}
		exported = append(exported, page.Items...)
	}
	if len(exported) != 6 {
		t.Errorf("export: got %d customers over pages of 3, want 6", len(exported))
	}

	// Every functional error, as the client sees it.
	functional := []struct {
		name  string
		call  func() error
		want  error
		class crm.Class
	}{
		{"create with a taken phone", func() error {
			_, err := c.Create(ctx, crm.CreateParams{FirstName: "Bob", Phone: "+1 555 0100"})
			return err
		}, crm.ErrDuplicatePhone, crm.Permanent},
		{"update that changes nothing", func() error {
			return c.Update(ctx, id, crm.UpdateParams{Email: ptr("ada@lovelace.example")})
		}, crm.ErrNoChanges, crm.Permanent},
		{"get of a missing customer", func() error { _, err := c.Get(ctx, "cus_missing"); return err }, crm.ErrNotFound, crm.Permanent},
		{"update of a missing customer", func() error {
			return c.Update(ctx, "cus_missing", crm.UpdateParams{Email: ptr("x@y.example")})
		}, crm.ErrNotFound, crm.Permanent},
		{"delete of a missing customer", func() error { return c.Delete(ctx, "cus_missing") }, crm.ErrNotFound, crm.Permanent},
		{"get of a blank id", func() error { _, err := c.Get(ctx, " "); return err }, crm.ErrMissingID, crm.Permanent},
		{"COMPACT_INACTIVE", func() error {
			sim.ForceError(crmsim.OpGet, crm.CodeCompactInactive, 1)
			_, err := c.Get(ctx, id)
			return err
		}, crm.ErrCompactInactive, crm.Permanent},
		{"NO_CREATE_ACTION", func() error {
			sim.ForceError(crmsim.OpGet, crm.CodeNoCreateAction, 1)
			_, err := c.Get(ctx, id)
			return err
		}, crm.ErrNoCreateAction, crm.Permanent},
	}
	for _, tt := range functional {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.want) || crm.Classify(err) != tt.class {
				t.Errorf("got %v (%v), want %v (%v)", err, crm.Classify(err), tt.want, tt.class)
			}
			var e *crm.Error
			if !errors.As(err, &e) || e.RequestID == "" {
				t.Errorf("got %#v, want an *Error with the CRM's request id", err)
			}
		})
	}

	if err := c.Delete(ctx, id); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := c.Get(ctx, id); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("get after delete: got %v, want ErrNotFound", err)
	}
	for _, p := range tr.Problems() {
		if !errors.Is(p, crmspec.ErrUndeclaredStatus) {
			t.Errorf("exchange does not validate: %v", p)
		}
	}
}
