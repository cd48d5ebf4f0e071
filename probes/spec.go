package probes

import "time"

// Spec is the kind-specific part of a check's configuration. It is decoded
// straight from config.yaml (the yaml tags are the agreed key names); each
// kind's constructor validates the fields it uses.
type Spec struct {
	Kind   string `yaml:"kind"`
	Target string `yaml:"target"`
	// Name is the check's name (set by the loader; heartbeats need it).
	Name string `yaml:"-"`

	// heartbeat
	Period time.Duration `yaml:"period"`
	Grace  time.Duration `yaml:"grace"`

	// http
	Method          string            `yaml:"method"`
	Headers         map[string]string `yaml:"headers"`
	Body            string            `yaml:"body"`
	FollowRedirects *bool             `yaml:"follow_redirects"`
	MaxRedirects    int               `yaml:"max_redirects"`
	CAFile          string            `yaml:"ca_file"`
	SkipTLSVerify   bool              `yaml:"skip_tls_verify"`
	MaxBodyBytes    int64             `yaml:"max_body_bytes"`

	// tcp
	Send string `yaml:"send"`

	// domain (also: warn_days, critical_days)
	RDAPURL       string `yaml:"rdap_url"`
	BootstrapFile string `yaml:"bootstrap_file"`

	// tls
	WarnDays     int    `yaml:"warn_days"`
	CriticalDays int    `yaml:"critical_days"`
	ServerName   string `yaml:"server_name"`

	// icmp
	Count int `yaml:"count"`

	// api: requests in order (also: follow_redirects, max_redirects,
	// ca_file, skip_tls_verify, server_name, max_body_bytes for all);
	// browser: actions in the page
	Steps []Step `yaml:"steps"`

	// browser
	FailOnConsoleErrors bool `yaml:"fail_on_console_errors"`
	FailOnRequestErrors bool `yaml:"fail_on_request_errors"`

	// websocket (also: headers, send, ca_file, skip_tls_verify, server_name)
	Subprotocol string `yaml:"subprotocol"`

	// grpc (also: headers as metadata, ca_file, skip_tls_verify, server_name)
	Service string `yaml:"service"`
	TLS     bool   `yaml:"tls"`

	// dns
	RecordType string `yaml:"record_type"`
	Resolver   string `yaml:"resolver"`
	Protocol   string `yaml:"protocol"`

	// Expect is nil when the check sets none, as most do (the kinds read
	// it through expect): inline, its 208 bytes were a quarter of each of
	// 5,000 checks' config (1 MB).
	Expect *Expect `yaml:"expect"`
}

// expect is what the check expects: nothing beyond its kind's default
// when it sets no expect.
func (s Spec) expect() Expect {
	if s.Expect == nil {
		return Expect{}
	}
	return *s.Expect
}

// Expect holds what a run must see to be Up.
type Expect struct {
	// http
	Status          []string      `yaml:"status"` // 200, "2xx", "200-299"
	BodyContains    string        `yaml:"body_contains"`
	BodyNotContains string        `yaml:"body_not_contains"`
	BodyRegex       string        `yaml:"body_regex"`
	JSON            []JSONExpect  `yaml:"json"`
	MaxLatency      time.Duration `yaml:"max_latency"`
	// websocket: a substring of a message the server must send
	Message string `yaml:"message"`
	// icmp: the share of echo requests that may be lost, in percent
	PacketLoss *float64 `yaml:"packet_loss"`
	// tcp
	Banner string `yaml:"banner"`
	// dns
	Rcode         string   `yaml:"rcode"`
	Values        []string `yaml:"values"`         // exact set
	ValuesContain []string `yaml:"values_contain"` // subset
}

// JSONExpect checks one value in a JSON response body. Path is a dot path
// ("data.items.0.state"; numeric segments index arrays).
type JSONExpect struct {
	Path    string `yaml:"path"`
	Equals  string `yaml:"equals"`
	Matches string `yaml:"matches"`
}

// bodyLimit is the check's max_body_bytes, or def when it sets none.
func (s Spec) bodyLimit(def int64) int64 {
	if s.MaxBodyBytes <= 0 {
		return def
	}
	return s.MaxBodyBytes
}
