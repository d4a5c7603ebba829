package queries

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gormic/crm-bridge/internal/crm"
)

// ByPhone returns the read model's customers whose phone has the digits
// of phone, in id order. ok is false, with no error, while the model is not
// filled or this process has not indexed it yet: the caller must then look
// elsewhere. It costs a map lookup and one model read per customer with
// those digits.
func (s *Service) ByPhone(ctx context.Context, phone string) (customers []crm.Customer, ok bool, err error) {
	x, qerr := s.readyIndex()
	if qerr != nil {
		return nil, false, nil
	}
	want := PhoneKey(phone)
	ids := x.ByPhone(want)
	recs, err := s.records(ctx, ids)
	if err != nil {
		return nil, false, fmt.Errorf("queries: read the model: %w", err)
	}
	for i, rec := range recs {
		if rec == nil {
			continue
		}
		var c crm.Customer
		if err := json.Unmarshal(rec, &c); err != nil {
			s.log.Warn("read model record unreadable", "customer_id", ids[i], "err", err)
			continue
		}
		if PhoneKey(c.Phone) == want {
			c.Raw = rec
			customers = append(customers, c)
		}
	}
	return customers, true, nil
}
