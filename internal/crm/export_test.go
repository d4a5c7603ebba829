package crm

import "time"

// SetClock replaces the clock c reads Retry-After dates against.
func SetClock(c *Client, now func() time.Time) { c.now = now }
