package crm

// SetProcesses tells the client how many live processes share Config.Rate,
// the deployment's budget: from then on it sends at most Rate/n requests
// per second (n below 1 counts as 1), with a burst of a tenth of that (at
// least 1). A rate lowered by 429s stays lowered by the same fraction. It
// logs at info when the share changes. Without a Rate it does nothing.
func (c *Client) SetProcesses(n int) {
	share, changed := c.limit.setProcesses(n)
	if changed {
		c.log.Info("CRM rate share changed", "budget", c.limit.budget, "processes", max(n, 1), "share", share)
	}
}

// RateShare returns the requests per second this process may send: its
// share of Config.Rate (0: no limit). 429s may hold the rate in force
// below it for a while.
func (c *Client) RateShare() float64 { return c.limit.share() }
