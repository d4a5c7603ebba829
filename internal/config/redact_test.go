package config

import (
	"math"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no userinfo", "nats://a:4222", "nats://a:4222"},
		{"password", "https://user:s3cret@crm.example.com/api", "https://user:xxxxx@crm.example.com/api"},
		{"nats password", "nats://user:s3cret@a:4222", "nats://user:xxxxx@a:4222"},
		{"nats token", "nats://s3cret@a:4222", "nats://xxxxx@a:4222"},
		{"tls token", "tls://s3cret@a:4222", "tls://xxxxx@a:4222"},
		{"user alone, maybe a token", "https://s3cret@crm.example.com", "https://xxxxx@crm.example.com"},
		{"list, each redacted", "nats://u:s3cret@a:4222, nats://u:s3cret@b:4222", "nats://u:xxxxx@a:4222, nats://u:xxxxx@b:4222"},
		{"no scheme", "u:s3cret@a:4222", "xxxxx@a:4222"},
		{"unparsable", "nats://u:s3 cret@a b:4222", "nats://xxxxx@a b:4222"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RedactURL(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestConfigErrorsNeverEchoURLSecrets: a URL setting that is wrong is named
// in its error without the password or token it carries.
func TestConfigErrorsNeverEchoURLSecrets(t *testing.T) {
	tests := []struct {
		name, env, value string
	}{
		{"CRM URL not http", "BRIDGE_CRM_URL", "ftp://user:s3cret@crm.example.com"},
		{"CRM URL without host", "BRIDGE_CRM_URL", "https://user:s3cret@"},
		{"CRM URL with a password", "BRIDGE_CRM_URL", "https://user:s3cret@crm.example.com"},
		{"NATS URL not NATS", "BRIDGE_NATS_URL", "http://user:s3cret@a:4222"},
		{"NATS token URL not NATS", "BRIDGE_NATS_URL", "http://s3cret@a:4222"},
		{"NATS list with a hole", "BRIDGE_NATS_URL", "nats://user:s3cret@a:4222,,nats://s3cret@b:4222"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := valid()
			vars[tt.env] = tt.value
			c, err := load(t, nil, vars)
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tt.env+": ") {
				t.Fatalf("got %v, want an error naming %s", err, tt.env)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("got %q, want the error without the URL's secret", err)
			}
		})
	}
}

// TestCRMRateMustBeFinite: BRIDGE_CRM_RATE refuses what no rate limiter
// can use, with one line naming the variable.
func TestCRMRateMustBeFinite(t *testing.T) {
	for _, v := range []string{"NaN", "nan", "Inf", "+Inf", "-Inf", "infinity", "-1", "-0.5"} {
		t.Run(v, func(t *testing.T) {
			vars := valid()
			vars["BRIDGE_CRM_RATE"] = v
			c, err := load(t, nil, vars)
			if err == nil {
				err = c.Validate()
			}
			if err == nil {
				t.Fatalf("got rate %v and no error, want an error", c.CRMRate)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "BRIDGE_CRM_RATE: ") || strings.Contains(msg, "\n") {
				t.Errorf("got %q, want one line naming BRIDGE_CRM_RATE", msg)
			}
		})
	}
	for _, v := range []string{"0", "0.5", "50", "1e3"} {
		vars := valid()
		vars["BRIDGE_CRM_RATE"] = v
		c, err := load(t, nil, vars)
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			t.Errorf("BRIDGE_CRM_RATE=%s: got %v, want no error", v, err)
		}
	}
	c := Default()
	c.CRMURL, c.CRMAPIKey, c.CRMOrgID = "http://crm", "k", "o"
	for _, f := range []float64{math.NaN(), math.Inf(1)} {
		c.CRMRate = f
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "BRIDGE_CRM_RATE: ") {
			t.Errorf("Validate with CRMRate %v: got %v, want an error naming BRIDGE_CRM_RATE", f, err)
		}
	}
}
