package crmsim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/google/btree"
)

// A state document, as Save writes it, is JSON lines: a header, then one
// line per customer in list order (createdAt, id):
//
//	{"format":"crmsim-state","version":1,"customers":2,"numberSeq":100002,"phoneSeq":2,"changeSeq":7,"rand":"<base64>"}
//	{"id":"cus_...","firstName":"Ada","phone":"+15550000001","phoneKey":"15550000001","calling":"1",...,"createdNs":...}
//	...
//
// The header's counters are what the store needs to keep generating unique
// values (customer numbers, seeded phones, change sequence numbers), and
// rand the state of the random source (math/rand/v2's PCG, binary
// marshalled) that ids, seeded customers and churn draw from. A customer
// line holds every stored field: nullable ones are left out when null,
// timestamps are Unix nanoseconds, vias are "api" or "ui". The change log
// is not kept.
const (
	stateFormat  = "crmsim-state"
	stateVersion = 1
)

// Errors returned by Load, matched with errors.Is.
var (
	// ErrBadState: the document is not a simulator state Load can read:
	// not JSON lines, another format or version, a corrupt or duplicate
	// customer, fewer customers than the header announces, or data after
	// them.
	ErrBadState = errors.New("crmsim: bad state document")
	// ErrNotEmpty: the simulator already holds customers.
	ErrNotEmpty = errors.New("crmsim: simulator already holds customers")
)

// stateHeader is the first line of a state document.
type stateHeader struct {
	Format    string `json:"format"`
	Version   int    `json:"version"`
	Customers int    `json:"customers"`
	NumberSeq uint64 `json:"numberSeq"`
	PhoneSeq  uint64 `json:"phoneSeq"`
	ChangeSeq uint64 `json:"changeSeq"`
	Rand      []byte `json:"rand"`
}

// savedRecord is a record in a state document.
type savedRecord struct {
	ID           string  `json:"id"`
	FirstName    string  `json:"firstName"`
	LastName     *string `json:"lastName,omitempty"`
	Email        *string `json:"email,omitempty"`
	Phone        string  `json:"phone"`
	PhoneKey     string  `json:"phoneKey"`
	Calling      string  `json:"calling"`
	Number       string  `json:"number"`
	CityID       *string `json:"cityId,omitempty"`
	BirthDate    *string `json:"birthDate,omitempty"`
	Gender       string  `json:"gender,omitempty"`
	Unsubscribed *bool   `json:"unsubscribed,omitempty"`
	InternalNote *string `json:"internalNote,omitempty"`
	Passcode     *string `json:"passcode,omitempty"`
	CreatedNs    int64   `json:"createdNs"`
	CreatedBy    string  `json:"createdBy"`
	CreatedVia   string  `json:"createdVia"`
	UpdatedNs    int64   `json:"updatedNs"`
	UpdatedBy    string  `json:"updatedBy"`
	UpdatedVia   string  `json:"updatedVia"`
	Archived     bool    `json:"archived,omitempty"`
	ArchivedNs   int64   `json:"archivedNs,omitempty"`
	ArchivedBy   string  `json:"archivedBy,omitempty"`
	ArchivedVia  string  `json:"archivedVia,omitempty"`
}

// Save writes the simulator's customers, archived ones included, and the
// counters and random state it generates values from, as a state document
// that Load restores: JSON lines, a versioned header ("format":
// "crmsim-state", "version": 1) then one line per customer, in list order,
// with every stored field (the passcode too: the document is test data,
// not for sharing). The change log is not written. Save streams: it holds no more than a buffer of the document in
// memory, but it holds the simulator's read lock while it writes, so that
// the document is one consistent state; changes (and, behind a waiting
// change, other requests) wait meanwhile. It returns w's error, wrapped.
func (s *Simulator) Save(w io.Writer) error {
	st := s.store
	st.mu.RLock()
	defer st.mu.RUnlock()
	rnd, err := st.src.MarshalBinary()
	if err != nil {
		return fmt.Errorf("crmsim: save: random state: %w", err)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	err = enc.Encode(stateHeader{
		Format: stateFormat, Version: stateVersion, Customers: len(st.byID),
		NumberSeq: st.numberSeq, PhoneSeq: st.phoneSeq, ChangeSeq: st.changeSeq, Rand: rnd,
	})
	if err == nil {
		st.byCreated.Ascend(func(k timeKey) bool {
			err = enc.Encode(savedOf(st.byID[k.id]))
			return err == nil
		})
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("crmsim: save: %w", err)
	}
	return nil
}

// Load restores a state document written by Save into a simulator that
// holds no customers: the customers, their indexes, the counters and the
// random state, so that the values generated next are the ones the saved
// simulator would have generated. The change log stays as it is (empty on
// a new simulator); Change.Seq goes on from the saved count. Load reads
// the whole document before it changes anything: on an error the
// simulator is as it was. It returns ErrNotEmpty when the simulator holds
// customers, ErrBadState (wrapped, saying what and where) for a document
// it cannot read, or r's error, wrapped.
func (s *Simulator) Load(r io.Reader) error {
	if s.Len() > 0 {
		return fmt.Errorf("crmsim: load: %w", ErrNotEmpty)
	}
	dec := json.NewDecoder(r)
	h, src, err := readHeader(dec)
	if err != nil {
		return err
	}
	fresh, err := loadRecords(dec, h.Customers)
	if err != nil {
		return err
	}
	if err := checkEnd(dec, h.Customers); err != nil {
		return err
	}
	return s.store.install(fresh, h, src)
}

// readHeader decodes and checks the document's header and the random
// state it holds.
func readHeader(dec *json.Decoder) (stateHeader, rand.PCG, error) {
	var h stateHeader
	var src rand.PCG
	if err := dec.Decode(&h); err != nil {
		return h, src, badState(err, "header")
	}
	switch {
	case h.Format != stateFormat:
		return h, src, fmt.Errorf("crmsim: load: %w: format %q, want %q", ErrBadState, h.Format, stateFormat)
	case h.Version != stateVersion:
		return h, src, fmt.Errorf("crmsim: load: %w: version %d, this simulator reads version %d", ErrBadState, h.Version, stateVersion)
	case h.Customers < 0:
		return h, src, fmt.Errorf("crmsim: load: %w: %d customers", ErrBadState, h.Customers)
	}
	if err := src.UnmarshalBinary(h.Rand); err != nil {
		return h, src, fmt.Errorf("crmsim: load: %w: random state: %v", ErrBadState, err)
	}
	return h, src, nil
}

// checkEnd reports data after the n customers as ErrBadState.
func checkEnd(dec *json.Decoder, n int) error {
	var extra json.RawMessage
	err := dec.Decode(&extra)
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return badState(err, "after the customers")
	}
	return fmt.Errorf("crmsim: load: %w: data after the %d customers", ErrBadState, n)
}

// install replaces st's customers, which must be none (ErrNotEmpty
// otherwise), with fresh's, and takes on h's counters where they are ahead
// and the random state src.
func (st *store) install(fresh *store, h stateHeader, src rand.PCG) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.byID) > 0 {
		return fmt.Errorf("crmsim: load: %w", ErrNotEmpty)
	}
	st.byID, st.byUpdated, st.byCreated, st.phones = fresh.byID, fresh.byUpdated, fresh.byCreated, fresh.phones
	st.numberSeq = max(st.numberSeq, h.NumberSeq)
	st.phoneSeq = max(st.phoneSeq, h.PhoneSeq)
	st.changeSeq = max(st.changeSeq, h.ChangeSeq)
	*st.src = src
	return nil
}

// loadRecords decodes n customers into new indexes.
func loadRecords(dec *json.Decoder, n int) (*store, error) {
	fresh := &store{
		byUpdated: btree.NewG(btreeDegree, timeLess),
		byCreated: btree.NewG(btreeDegree, timeLess),
	}
	fresh.reserve(min(n, 1<<24)) // n is the document's word: bounded
	in := newInterner()
	var slab []record // records are allocated a batch at a time, as Seed does
	for i := range n {
		var sr savedRecord
		if err := dec.Decode(&sr); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("crmsim: load: %w: truncated: %d of %d customers", ErrBadState, i, n)
			}
			return nil, badState(err, fmt.Sprintf("customer %d of %d", i+1, n))
		}
		if len(slab) == 0 {
			slab = make([]record, min(n-i, seedBatch))
		}
		r := &slab[0]
		slab = slab[1:]
		if err := fresh.addSaved(r, &sr, in); err != nil {
			return nil, fmt.Errorf("crmsim: load: %w: customer %d of %d: %v", ErrBadState, i+1, n, err)
		}
	}
	return fresh, nil
}

// addSaved restores r from sr and indexes it, unless it is one the
// simulator could not have stored, or clashes with a customer loaded
// before: the same id, or the same phone with neither archived.
func (fresh *store) addSaved(r *record, sr *savedRecord, in *interner) error {
	if err := sr.restore(r, in); err != nil {
		return err
	}
	if _, dup := fresh.byID[r.id]; dup {
		return fmt.Errorf("id %s appears twice", r.id)
	}
	if !r.archived && fresh.phoneTaken(r.phoneKey, "") {
		return fmt.Errorf("phone %q is also %s's", r.phone, fresh.phones[r.phoneKey])
	}
	fresh.insert(r)
	return nil
}

// badState wraps a decoding error of the document's part where.
func badState(err error, where string) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("crmsim: load: %w: %s: empty document", ErrBadState, where)
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syn) || errors.As(err, &typ) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("crmsim: load: %w: %s: %v", ErrBadState, where, err)
	}
	return fmt.Errorf("crmsim: load: %s: %w", where, err) // the reader's
}

// savedOf returns r as Save writes it.
func savedOf(r *record) savedRecord {
	sr := savedRecord{
		ID: r.id, FirstName: r.firstName, LastName: r.lastName, Email: r.email,
		Phone: r.phone, PhoneKey: r.phoneKey, Calling: r.calling, Number: r.number,
		CityID: r.cityID, BirthDate: r.birthDate, Gender: r.gender, Unsubscribed: r.unsubscribed,
		InternalNote: r.internalNote, Passcode: r.passcode,
		CreatedNs: r.created, CreatedBy: r.createdBy, CreatedVia: r.createdVia.String(),
		UpdatedNs: r.updated, UpdatedBy: r.updatedBy, UpdatedVia: r.updatedVia.String(),
	}
	if r.archived {
		sr.Archived, sr.ArchivedNs, sr.ArchivedBy, sr.ArchivedVia = true, r.archivedAt, r.archivedBy, r.archivedVia.String()
	}
	return sr
}

// restore fills r from sr, sharing repeated values through in. It returns
// an error for a record the simulator could not have stored.
func (sr *savedRecord) restore(r *record, in *interner) error {
	vias, err := sr.vias()
	if err != nil {
		return err
	}
	switch {
	case sr.ID == "":
		return errors.New("no id")
	case sr.PhoneKey == "":
		return fmt.Errorf("%s: no phoneKey", sr.ID)
	case sr.Gender != "" && checkGender(sr.Gender) != nil:
		return fmt.Errorf("%s: gender %q", sr.ID, sr.Gender)
	}
	key := sr.PhoneKey
	if strings.HasSuffix(sr.Phone, key) { // share the phone's memory, as Seed does
		key = sr.Phone[len(sr.Phone)-len(key):]
	}
	*r = record{
		id: sr.ID, firstName: in.str(sr.FirstName), lastName: in.ptr(sr.LastName), email: sr.Email,
		phone: sr.Phone, phoneKey: key, calling: in.str(sr.Calling), number: sr.Number,
		cityID: in.ptr(sr.CityID), birthDate: in.ptr(sr.BirthDate), gender: in.str(sr.Gender),
		unsubscribed: in.bool(sr.Unsubscribed), internalNote: sr.InternalNote, passcode: sr.Passcode,
		created: sr.CreatedNs, updated: sr.UpdatedNs, createdBy: in.str(sr.CreatedBy), updatedBy: in.str(sr.UpdatedBy),
		createdVia: vias[0], updatedVia: vias[1],
	}
	if sr.Archived {
		r.archived, r.archivedAt, r.archivedBy, r.archivedVia = true, sr.ArchivedNs, in.str(sr.ArchivedBy), vias[2]
	}
	return nil
}

// vias parses sr's created, updated and archived vias, in that order.
func (sr *savedRecord) vias() ([3]via, error) {
	var vias [3]via
	for i, v := range [...]string{sr.CreatedVia, sr.UpdatedVia, sr.ArchivedVia} {
		var err error
		if vias[i], err = parseVia(v); err != nil {
			return vias, err
		}
	}
	return vias, nil
}

// parseVia is the inverse of via.String.
func parseVia(s string) (via, error) {
	for _, v := range [...]via{viaNone, viaAPI, viaUI} {
		if v.String() == s {
			return v, nil
		}
	}
	return viaNone, fmt.Errorf("via %q: want api or ui", s)
}

// interner shares the values that repeat across customers (names, cities,
// birth dates, users), so that a loaded store takes about the memory of a
// seeded one. Stored strings are never written through (see record), so
// sharing them is safe.
type interner struct {
	vals    map[string]*string
	yes, no *bool // not fields: records must not keep the interner alive
}

// internMax bounds the distinct values an interner keeps.
const internMax = 1 << 16

func newInterner() *interner {
	yes := true
	return &interner{vals: make(map[string]*string), yes: &yes, no: new(bool)}
}

// ptr returns a pointer to *p's value shared with earlier equal values, or
// p; nil stays nil.
func (in *interner) ptr(p *string) *string {
	if p == nil {
		return nil
	}
	if q, ok := in.vals[*p]; ok {
		return q
	}
	if len(in.vals) < internMax {
		in.vals[*p] = p
	}
	return p
}

// str returns s, sharing the memory of an earlier equal value.
func (in *interner) str(s string) string {
	if q, ok := in.vals[s]; ok {
		return *q
	}
	if len(in.vals) < internMax {
		p := new(string)
		*p = s
		in.vals[s] = p
	}
	return s
}

// bool returns a shared pointer to *p's value; nil stays nil.
func (in *interner) bool(p *bool) *bool {
	switch {
	case p == nil:
		return nil
	case *p:
		return in.yes
	}
	return in.no
}
