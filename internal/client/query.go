package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/gormic/crm-bridge/internal/term"
)

// ServiceError is the crm-bridge service's error answer to a query.
type ServiceError struct {
	Status  string // the micro error code header: 400, 404, 503, ...
	Code    string // the answer's code: NOT_FOUND, ...
	Message string
}

// Error returns "<code> (<status>): <message>", the code and the message
// fit for a terminal (term.Clean): they come from the service as they are.
func (e *ServiceError) Error() string {
	return fmt.Sprintf("%s (%s): %s", term.Clean(e.Code), e.Status, term.Clean(e.Message))
}

// Query sends one request to the crm-bridge service on nc, waiting at most
// c.Timeout, and returns its reply. It fails with an error that says what
// went wrong: no bridge answering, a timeout, or the service's error
// answer (a *ServiceError).
func (c Config) Query(ctx context.Context, nc *nats.Conn, subject string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	m, err := nc.RequestWithContext(ctx, subject, body)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("no bridge answers %s (is a bridge running on this NATS, with this BRIDGE_SUBJECT_PREFIX?)", subject)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	if status := m.Header.Get(micro.ErrorCodeHeader); status != "" {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(m.Data, &e) != nil || e.Error.Message == "" {
			e.Error.Code, e.Error.Message = m.Header.Get(micro.ErrorHeader), string(m.Data)
		}
		return nil, &ServiceError{Status: status, Code: e.Error.Code, Message: e.Error.Message}
	}
	return m.Data, nil
}
