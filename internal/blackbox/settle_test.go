package blackbox

import (
	"github.com/gormic/crm-bridge/internal/proctest"

	"strings"
	"testing"
	"time"
)

// settled waits until the bridge p's first poll is done (its "poll done"
// line), so that a command round does not time that poll: at each start
// the bridge polls the changes the rounds before made (thousands of
// events, and the read model's writes), which is the events' cost, not
// the commands' (docs/performance.md, "Black-box").
func settled(tb testing.TB, p *proctest.Proc) {
	tb.Helper()
	proctest.WaitFor(tb, p, 5*time.Minute, 20*time.Millisecond, "the bridge's first poll", func() bool {
		return strings.Contains(p.Output.String(), `"msg":"poll done"`)
	})
}
