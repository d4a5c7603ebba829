package commands

import (
	"errors"

	"github.com/gormic/crm-bridge/internal/streams"
)

// parseSubject reads a command's op and customer id from the subject it
// was published to. For a subject that streams.Subjects.ParseCommand
// rejects, it returns what the result says instead, with the rejection:
//
//   - an update or delete whose customer id token does not decode, or is
//     not the canonical token of its id: the op, and the token as
//     published as the customer id (the message names the canonical
//     subject where there is one);
//   - a subject that is no command subject at all: streams.OpUnknown, and
//     no customer id.
func parseSubject(subj streams.Subjects, subject string) (op, customerID string, verr *ValidationError) {
	op, customerID, err := subj.ParseCommand(subject)
	if err == nil {
		return op, customerID, nil
	}
	verr = &ValidationError{Message: err.Error()}
	var se *streams.SubjectError
	if errors.As(err, &se) && se.Token != "" {
		return se.Op, se.Token, verr
	}
	return streams.OpUnknown, "", verr
}
