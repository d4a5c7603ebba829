package crmsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gormic/crm-bridge/internal/crm"
)

// The data of each operation's answer.
type (
	createData struct {
		Succeed bool   `json:"succeed"`
		ID      string `json:"id"`
	}
	succeedData struct {
		Succeed bool `json:"succeed"`
	}
	getData struct {
		User userMap `json:"user"`
	}
	listData struct {
		Users []userMap `json:"users"`
		Next  string    `json:"next,omitempty"`
	}
	exportData struct {
		Items []userMap `json:"items"`
		Next  string    `json:"next,omitempty"`
	}
)

func (s *Simulator) create(rq *request, drop bool) {
	raw, ok := s.params(rq)
	if !ok {
		return
	}
	var p crm.CreateParams
	if err := json.Unmarshal(raw, &p); err != nil {
		s.fail(rq, http.StatusBadRequest, codeBadRequest, "params: "+err.Error())
		return
	}
	st := s.store
	st.mu.Lock()
	r, err := st.create(s.nowNanos(), s.apiActor(rq, raw), p)
	var id string
	if err == nil {
		id = r.id
	}
	st.mu.Unlock()
	s.answerChange(rq, err, drop, createData{Succeed: true, ID: id})
}

// answerChange answers a create, update or delete: its functional error,
// or, once it is applied, its data, or nothing at all with drop.
func (s *Simulator) answerChange(rq *request, err error, drop bool, data any) {
	switch {
	case err != nil:
		s.functional(rq, err)
	case drop:
		s.drop(rq)
	default:
		s.ok(rq, data)
	}
}

func (s *Simulator) get(rq *request) {
	id, ok := s.uid(rq)
	if !ok {
		return
	}
	u, found := s.store.wire(id)
	if !found {
		s.functional(rq, fmt.Errorf("%w: %s", ErrNotFound, id))
		return
	}
	s.ok(rq, getData{User: u})
}

func (s *Simulator) update(rq *request, drop bool) {
	id, ok := s.uid(rq)
	if !ok {
		return
	}
	raw, ok := s.params(rq)
	if !ok {
		return
	}
	var p struct {
		ID *string `json:"id"`
		patch
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		s.fail(rq, http.StatusBadRequest, codeBadRequest, "params: "+err.Error())
		return
	}
	switch {
	case p.ID == nil || strings.TrimSpace(*p.ID) == "":
		s.functional(rq, fmt.Errorf("%w: params.id is blank", ErrMissingID))
		return
	case *p.ID != id:
		s.fail(rq, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("params.id %q differs from the path's %q", *p.ID, id))
		return
	}
	st := s.store
	st.mu.Lock()
	_, err := st.update(s.nowNanos(), s.apiActor(rq, raw), id, p.patch)
	st.mu.Unlock()
	s.answerChange(rq, err, drop, succeedData{Succeed: true})
}

func (s *Simulator) delete(rq *request, drop bool) {
	id, ok := s.uid(rq)
	if !ok {
		return
	}
	st := s.store
	st.mu.Lock()
	var err error
	if s.opts.DeleteMode == DeleteArchive {
		_, err = st.archive(s.nowNanos(), s.apiActor(rq, nil), id)
	} else {
		err = st.delete(s.nowNanos(), s.apiActor(rq, nil), id)
	}
	st.mu.Unlock()
	s.answerChange(rq, err, drop, succeedData{Succeed: true})
}

func (s *Simulator) list(rq *request) {
	tok, ok := s.token(rq, "c")
	if !ok {
		return
	}
	users, next := s.store.listPage(tok, s.PageSize())
	s.ok(rq, listData{Users: users, Next: next})
}

func (s *Simulator) export(rq *request) {
	since, err := parseSince(rq.r.URL.Query().Get("updatedSince"))
	if err != nil {
		s.fail(rq, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	tok, ok := s.token(rq, "ko")
	if !ok {
		return
	}
	items, next := s.store.exportPage(since, tok, s.PageSize(), s.opts.Paging)
	s.ok(rq, exportData{Items: items, Next: next})
}

// params returns the request body's params object, compacted; it answers
// 400 and reports false when there is none.
func (s *Simulator) params(rq *request) (json.RawMessage, bool) {
	var body struct {
		Params json.RawMessage `json:"params"`
	}
	b, err := io.ReadAll(rq.r.Body)
	if err == nil {
		err = json.Unmarshal(b, &body)
	}
	var buf bytes.Buffer
	if err == nil {
		err = json.Compact(&buf, body.Params)
	}
	if err != nil {
		s.fail(rq, http.StatusBadRequest, codeBadRequest, "body: "+err.Error())
		return nil, false
	}
	return buf.Bytes(), true
}

// uid returns the path's customer id, unescaped; it answers MISSING_ID and
// reports false when the id is blank.
func (s *Simulator) uid(rq *request) (string, bool) {
	id, err := url.PathUnescape(rq.ex.PathParams()["uid"])
	if err != nil {
		s.fail(rq, http.StatusBadRequest, codeBadRequest, "uid: "+err.Error())
		return "", false
	}
	if strings.TrimSpace(id) == "" {
		s.functional(rq, fmt.Errorf("%w: uid is blank", ErrMissingID))
		return "", false
	}
	return id, true
}

// token returns the decoded offset query parameter (nil when absent) of
// one of kinds; it answers 400 and reports false when it does not decode.
func (s *Simulator) token(rq *request, kinds string) (*pageToken, bool) {
	raw := rq.r.URL.Query().Get("offset")
	if raw == "" {
		return nil, true
	}
	tok, err := parseToken(raw, kinds)
	if err != nil {
		s.fail(rq, http.StatusBadRequest, codeBadRequest, err.Error())
		return nil, false
	}
	return &tok, true
}

// apiActor is the author of an API change.
func (s *Simulator) apiActor(rq *request, params json.RawMessage) actor {
	return actor{via: viaAPI, by: apiUser(rq.r.Header.Get("api-key")), params: params, requestID: rq.id}
}

// functional answers an error of the store with the CRM's functional code.
func (s *Simulator) functional(rq *request, err error) {
	msg := err.Error()
	switch {
	case errors.Is(err, ErrNotFound):
		status := http.StatusBadRequest
		if rq.op != OpGet && !s.opts.NotFoundAs400 {
			status = http.StatusNotFound
		}
		s.fail(rq, status, crm.CodeNotFound, msg)
	case errors.Is(err, ErrDuplicatePhone):
		s.fail(rq, http.StatusBadRequest, crm.CodeDuplicatePhone, msg)
	case errors.Is(err, ErrNoChanges):
		s.fail(rq, http.StatusBadRequest, crm.CodeNoChanges, msg)
	case errors.Is(err, ErrMissingID):
		s.fail(rq, http.StatusBadRequest, crm.CodeMissingID, msg)
	case errors.Is(err, ErrInvalid):
		s.fail(rq, http.StatusBadRequest, codeBadRequest, msg)
	default:
		s.fail(rq, http.StatusInternalServerError, codeInternal, msg)
	}
}

// drop closes the connection without answering, after the change was
// applied. Without a connection to hijack (HTTP/2, a ResponseRecorder) it
// panics with http.ErrAbortHandler, which net/http turns into a reset.
func (s *Simulator) drop(rq *request) {
	s.stats.add(rq.op, 0)
	s.log.Debug("crmsim: dropping the connection after applying", "request_id", rq.id, "op", string(rq.op))
	conn, _, err := http.NewResponseController(rq.w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close() // the point is that the client gets no answer
}
