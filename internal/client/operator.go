package client

import (
	"encoding/json"
	"os"
	"os/user"
	"time"

	"github.com/nats-io/nats.go"
)

// Operator is who runs a client subcommand, as far as it can tell: the OS
// user and host it runs as and on, and the NATS user and account that the
// server authenticated its connection as (which, unlike the first two,
// the person cannot choose by setting an environment variable). A part
// that cannot be learnt is "unknown"; the NATS user is empty on a server
// without authentication.
type Operator struct {
	OSUser, Host, NATSUser, NATSAccount string
}

// LogAttrs are the slog attributes that say who o is, for an audit log:
// os_user, host, nats_user and nats_account.
func (o Operator) LogAttrs() []any {
	return []any{"os_user", o.OSUser, "host", o.Host, "nats_user", o.NATSUser, "nats_account", o.NATSAccount}
}

// userInfoSubject answers a connection with the user and account that the
// server knows it as (nats-server 2.10 and later).
const userInfoSubject = "$SYS.REQ.USER.INFO"

// Whoami returns who runs this process on nc, asking the server at most
// timeout (and 2s).
func Whoami(nc *nats.Conn, timeout time.Duration) Operator {
	o := Operator{OSUser: "unknown", Host: "unknown", NATSUser: "unknown", NATSAccount: "unknown"}
	if u, err := user.Current(); err == nil {
		o.OSUser = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		o.Host = h
	}
	o.NATSUser, o.NATSAccount = natsIdentity(nc, timeout)
	return o
}

// natsIdentity returns the user and account that the server knows nc as,
// each with its name when it has one; "unknown" when it does not say.
func natsIdentity(nc *nats.Conn, timeout time.Duration) (natsUser, account string) {
	m, err := nc.Request(userInfoSubject, nil, min(timeout, 2*time.Second))
	if err != nil {
		return "unknown", "unknown"
	}
	var r struct {
		Data *struct {
			User        string `json:"user"`
			UserName    string `json:"user_name"`
			Account     string `json:"account"`
			AccountName string `json:"account_name"`
		} `json:"data"`
	}
	if json.Unmarshal(m.Data, &r) != nil || r.Data == nil {
		return "unknown", "unknown"
	}
	natsUser, account = r.Data.User, r.Data.Account
	if r.Data.UserName != "" {
		natsUser = r.Data.UserName + " (" + r.Data.User + ")"
	}
	if r.Data.AccountName != "" && r.Data.AccountName != r.Data.Account {
		account = r.Data.AccountName + " (" + r.Data.Account + ")"
	}
	return natsUser, account
}
