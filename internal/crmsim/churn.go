package crmsim

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
)

// Churn changes perTick random customers every interval, as the CRM's
// users would, until ctx is done; then it returns nil. Each change is,
// at random: an update of one or two fields (60%), a touch (15%), a new
// customer (10%), a removal (10%) or an archiving (5%), all via "ui" and
// logged in Changes. The choices come from Options.RandSeed's source. It
// returns an error at once when interval or perTick is not positive.
func (s *Simulator) Churn(ctx context.Context, interval time.Duration, perTick int) error {
	if interval <= 0 || perTick <= 0 {
		return errors.New("crmsim: churn needs a positive interval and per-tick")
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.churnOnce(perTick)
		}
	}
}

// churnOnce makes n random changes.
func (s *Simulator) churnOnce(n int) {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	now, a := s.nowNanos(), uiActor()
	for range n {
		id, ok := st.randomID()
		roll := st.rng.IntN(100)
		if !ok || roll < 10 {
			r := new(record)
			st.gen().fill(st, r, now)
			st.insert(r)
			st.logChange(ChangeCreate, r.id, now, a)
			continue
		}
		var err error
		switch {
		case roll < 70:
			_, err = st.update(now, a, id, churnPatch(st.rng))
		case roll < 85:
			_, err = st.touch(now, a, id)
		case roll < 95:
			err = st.delete(now, a, id)
		default:
			_, err = st.archive(now, a, id)
		}
		if err != nil {
			s.log.Debug("crmsim: churn change skipped", "customer_id", id, "error", err)
		}
	}
}

// randomID returns a random customer's id: the first created at or after
// a random time between the first and the last creation (uniform for
// seeded customers, which are created at a steady pace).
func (st *store) randomID() (string, bool) {
	lo, ok := st.byCreated.Min()
	if !ok {
		return "", false
	}
	hi, _ := st.byCreated.Max()
	probe := timeKey{at: lo.at}
	if span := hi.at - lo.at; span > 0 {
		probe.at += st.rng.Int64N(span + 1)
	}
	found := hi.id
	st.byCreated.AscendGreaterOrEqual(probe, func(k timeKey) bool {
		found = k.id
		return false
	})
	return found, true
}

// churnPatch changes one or two fields at random.
func churnPatch(rng *rand.Rand) patch {
	var p patch
	for range 1 + rng.IntN(2) {
		n := strconv.Itoa(rng.IntN(1_000_000))
		switch rng.IntN(4) {
		case 0:
			p.Email = crm.Some("churn" + n + "@example.com")
		case 1:
			p.LastName = crm.Some(seedLastNames[rng.IntN(len(seedLastNames))])
		case 2:
			p.Unsubscribed = crm.Some(rng.IntN(2) == 0)
		default:
			p.InternalNote = crm.Some("note " + n)
		}
	}
	return p
}
