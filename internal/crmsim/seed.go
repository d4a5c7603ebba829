package crmsim

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// The names Seed and Churn draw from.
var (
	seedFirstNames = [...]string{"Ada", "Alan", "Barbara", "Claude", "Dennis", "Edsger", "Frances", "Grace",
		"Hedy", "Ivan", "Jean", "Ken", "Leslie", "Margaret", "Niklaus", "Olga", "Peter", "Radia", "Shafi",
		"Tim", "Ursula", "Vint", "Whitfield", "Xiaoyun", "Yukihiro", "Zhores"}
	seedLastNames = [...]string{"Lovelace", "Turing", "Liskov", "Shannon", "Ritchie", "Dijkstra", "Allen",
		"Hopper", "Lamarr", "Sutherland", "Sammet", "Thompson", "Lamport", "Hamilton", "Wirth", "Taussky",
		"Naur", "Perlman", "Goldwasser", "Berners-Lee", "Franklin", "Cerf", "Diffie", "Wang", "Matsumoto",
		"Alferov"}
)

// seedBatch is how many customers Seed adds per hold of the lock, so that
// requests are served while a million are added.
const seedBatch = 16384

// Seed adds n customers, quickly (a million in a few seconds), as if
// they had been created in the CRM's UI over time: their createdAt and
// updatedAt are one TimestampPrecision apart, the last one at Now. Their
// ids, names, phones and other fields are generated from Options.RandSeed:
// the same seed on a new simulator gives the same customers. Phones are
// unique ("+1555" and 7 digits). Seeded customers are not in Changes: they
// are the starting state.
func (s *Simulator) Seed(n int) {
	if n <= 0 {
		return
	}
	step := s.opts.TimestampPrecision.Nanoseconds()
	end := s.nowNanos()
	st := s.store
	st.mu.Lock()
	st.reserve(n)
	st.mu.Unlock()
	for done := 0; done < n; {
		st.mu.Lock()
		stop := min(n, done+seedBatch)
		slab := make([]record, stop-done) // one allocation per batch
		for i := range slab {
			r := &slab[i]
			st.gen().fill(st, r, end-int64(n-1-done)*step)
			st.insert(r)
			done++
		}
		st.mu.Unlock()
	}
}

// seedGen generates customers. Its tables are shared by the records it
// fills, which never write through their pointers.
type seedGen struct {
	lastNames  []string
	cities     []string
	birthDates []string
	yes, no    bool
	firstLower []string
	lastLower  []string
}

func newSeedGen() *seedGen {
	g := &seedGen{yes: true}
	g.lastNames = append(g.lastNames, seedLastNames[:]...)
	for i := range 50 {
		g.cities = append(g.cities, "city_"+strconv.Itoa(i+1))
	}
	for y := 1950; y < 2006; y++ {
		for m := 1; m <= 12; m++ {
			for d := 1; d <= 28; d += 3 {
				g.birthDates = append(g.birthDates, fmt.Sprintf("%04d-%02d-%02d", y, m, d))
			}
		}
	}
	for _, f := range seedFirstNames {
		g.firstLower = append(g.firstLower, strings.ToLower(f))
	}
	for _, l := range seedLastNames {
		g.lastLower = append(g.lastLower, strings.ToLower(strings.ReplaceAll(l, "-", "")))
	}
	return g
}

// fill makes r a new customer updated at ts; st.mu must be held.
func (g *seedGen) fill(st *store, r *record, ts int64) {
	fi, li := st.rng.IntN(len(seedFirstNames)), st.rng.IntN(len(seedLastNames))
	*r = record{
		id:         st.newID(),
		firstName:  seedFirstNames[fi],
		calling:    defaultCalling,
		number:     st.nextNumber(),
		created:    ts,
		updated:    ts,
		createdBy:  uiUser,
		createdVia: viaUI,
		updatedBy:  uiUser,
		updatedVia: viaUI,
	}
	r.phone, r.phoneKey = g.phone(st)
	g.fillOptional(st.rng, r, fi, li)
}

// fillOptional draws r's optional fields from rng: a last name (the li-th)
// for 9 in 10, an email made of the names for 7 in 10, a city for half, a
// birth date for 6 in 10, and a gender and a subscription each a third
// unset.
func (g *seedGen) fillOptional(rng *rand.Rand, r *record, fi, li int) {
	if rng.IntN(10) > 0 {
		r.lastName = &g.lastNames[li]
	}
	if rng.IntN(10) < 7 {
		email := g.firstLower[fi] + "." + g.lastLower[li] + r.number + "@example.com"
		r.email = &email
	}
	if rng.IntN(2) == 0 {
		r.cityID = &g.cities[rng.IntN(len(g.cities))]
	}
	if rng.IntN(10) < 6 {
		r.birthDate = &g.birthDates[rng.IntN(len(g.birthDates))]
	}
	r.gender = [...]string{"", "F", "M"}[rng.IntN(3)]
	switch rng.IntN(3) {
	case 0:
		r.unsubscribed = &g.no
	case 1:
		r.unsubscribed = &g.yes
	}
}

// phone returns the next unused seeded phone and its key (which shares
// the phone's memory).
func (g *seedGen) phone(st *store) (phone, key string) {
	var b [12]byte
	copy(b[:], "+1555")
	for {
		st.phoneSeq++
		v := st.phoneSeq % 10_000_000
		for i := 11; i >= 5; i-- {
			b[i] = byte('0' + v%10)
			v /= 10
		}
		if _, taken := st.phones[string(b[1:])]; !taken {
			phone = string(b[:])
			return phone, phone[1:]
		}
	}
}
