package crm

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// exportPath is the export operation's path.
const exportPath = customersPath + "/export"

// opExport is the export's operation name, in metrics, logs and spans.
const opExport = "export"

// SinceFormat is how updatedSince is sent: RFC 3339 in UTC with exactly
// three fractional digits, e.g. "2026-11-27T10:00:00.123Z". The contract
// asks for an RFC 3339 UTC timestamp; milliseconds are what the CRM's own
// timestamps carry and what any RFC 3339 parser accepts.
const SinceFormat = "2006-01-02T15:04:05.000Z07:00"

// FormatSince returns t as sent in updatedSince: in UTC, truncated (never
// rounded up) to the millisecond, so that the CRM is never asked for less
// than the caller meant.
func FormatSince(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format(SinceFormat)
}

// ExportPage fetches one page of GET /v1/crm/customers/export: customers
// changed since since (a zero since omits updatedSince: the complete
// export), starting at offset (empty: the first page). Each customer's Raw
// is set. Next is empty on the last page.
func (c *Client) ExportPage(ctx context.Context, since time.Time, offset string) (ExportPage, error) {
	q := url.Values{}
	if !since.IsZero() {
		q.Set("updatedSince", FormatSince(since))
	}
	if offset != "" {
		q.Set("offset", offset)
	}
	d, err := send[ExportPage](ctx, c, call{op: opExport, method: http.MethodGet, path: exportPath, query: q})
	if err != nil {
		return ExportPage{}, err
	}
	return *d, nil
}

// Export pages through the export as the contract says: updatedSince, then
// the same updatedSince with offset = the previous page's next, until next
// is empty or absent. It yields (page, nil) per page, in order, and what the
// CRM returned, unfiltered: a record that moves between pages while paging
// may come twice or not at all; the caller copes.
//
// A page that fails with a transient error (Classify) is asked for again,
// up to Config.PageRetries times, with backoff and never sooner than its
// Retry-After: the same updatedSince and offset, which the CRM answers
// from its state then. A failure that persists, or any other, is yielded
// once, and the export stops: err is an
// *Error (a cancelled ctx gives one wrapping ctx.Err(), both between and
// during requests). A next that repeats an offset already followed in this
// pass would loop for ever: the page carrying it is yielded, then an error
// matching ErrRepeatedNext. Breaking out of the range loop stops the export
// without a further request.
func (c *Client) Export(ctx context.Context, since time.Time) iter.Seq2[ExportPage, error] {
	return func(yield func(ExportPage, error) bool) {
		seen := make(map[string]struct{})
		offset := ""
		for {
			page, err := c.exportPage(ctx, since, offset)
			if err != nil {
				yield(ExportPage{}, err)
				return
			}
			if !yield(page, nil) || page.Next == "" {
				return
			}
			if _, dup := seen[page.Next]; dup {
				yield(ExportPage{}, &Error{Op: "export", Status: http.StatusOK,
					Err: fmt.Errorf("%w: %w: offset %q", ErrBadResponse, ErrRepeatedNext, page.Next)})
				return
			}
			seen[page.Next] = struct{}{}
			offset = page.Next
		}
	}
}

// exportPage is ExportPage, asked again after a transient failure.
func (c *Client) exportPage(ctx context.Context, since time.Time, offset string) (ExportPage, error) {
	var bo backoff.BackOff
	for retry := 0; ; retry++ {
		page, err := c.ExportPage(ctx, since, offset)
		if err == nil || retry >= c.pageRetries || Classify(err) != Transient {
			return page, err
		}
		if bo == nil {
			bo = c.pageBackoff()
		}
		wait := bo.NextBackOff()
		var e *Error
		if errors.As(err, &e) && e.RetryAfter > wait {
			wait = e.RetryAfter
		}
		c.log.Debug("crm export page failed; asking again", "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ExportPage{}, &Error{Op: "export", Err: ctx.Err()}
		case <-t.C:
		}
	}
}
