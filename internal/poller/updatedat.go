package poller

import "time"

// maxBadUpdatedAt bounds how many customers badUpdatedAt remembers; past
// it, it forgets them all and warns about each once more.
const maxBadUpdatedAt = 10000

// badUpdatedAt remembers, per customer, the last updatedAt that was
// missing or not RFC 3339, so that the poller warns once per customer and
// value instead of on every poll. Only the pass's own goroutine uses it.
type badUpdatedAt map[string]string

// observe keeps the greatest updatedAt of the pass. An updatedAt that is
// missing or not RFC 3339 cannot move the cursor (while no record has a
// good one, every poll reads the complete export): it is counted, and
// logged once per customer and value.
func (ps *pass) observe(id, updatedAt string) {
	if updatedAt != "" && updatedAt == ps.maxAtRaw {
		return
	}
	t, err := time.Parse(time.RFC3339Nano, updatedAt)
	if err != nil {
		ps.badUpdatedAt(id, updatedAt)
		return
	}
	if t.After(ps.maxAt) {
		ps.maxAt, ps.maxAtRaw = t, updatedAt
	}
}

func (ps *pass) badUpdatedAt(id, updatedAt string) {
	p := ps.p
	p.metrics.badUpdatedAt.Inc()
	if last, ok := p.badAt[id]; ok && last == updatedAt {
		return
	}
	if len(p.badAt) >= maxBadUpdatedAt {
		clear(p.badAt)
	}
	p.badAt[id] = updatedAt
	p.log.Warn("customer's updatedAt is missing or not RFC 3339; it cannot move the poller's cursor",
		"customer_id", id, "updated_at", updatedAt)
}
