// Package config loads and validates config.yaml strictly: unknown keys,
// wrong types, bad values and dangling references are all reported at once,
// each with file, line, column and field.
package config

import (
	"net"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/notify"
)

// Config is the whole, validated configuration. It is immutable after Load;
// runtime state lives in the engine.
type Config struct {
	Site       Site        `yaml:"site"`
	Listen     string      `yaml:"listen"`
	Operators  Operators   `yaml:"operators"`
	Storage    Storage     `yaml:"storage"`
	Components []Component `yaml:"components"`
	Checks     []Check     `yaml:"checks"`
	// Canaries are independent endpoints that should always be up; never
	// shown publicly. They tell "the targets are down" from "we are cut off".
	Canaries     []Check       `yaml:"canaries"`
	Connectivity Connectivity  `yaml:"connectivity"`
	Incidents    Incidents     `yaml:"incidents"`
	Maintenance  []Maintenance `yaml:"maintenance"`
	Scheduler    Scheduler     `yaml:"scheduler"`
	Metrics      Metrics       `yaml:"metrics"`
	TLS          TLS           `yaml:"tls"`
	Export       Export        `yaml:"export"`
	Channels     []Channel     `yaml:"channels"`
	Publish      Publish       `yaml:"publish"`
	Admin        Admin         `yaml:"admin"`
	Deadman      Deadman       `yaml:"deadman"`
	Peers        []Peer        `yaml:"peers"`
	Peering      Peering       `yaml:"peering"`
	Webhooks     Webhooks      `yaml:"webhooks"`
	Browser      Browser       `yaml:"browser"`
	// Email turns on email subscriptions when from and smtp.host are set.
	Email Email `yaml:"email"`
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed (a CDN or
	// load balancer in front); everyone else is identified by peer address.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Cluster, when set, makes this Outpost one node of several
	// (docs/config.md); nil means one node, as before.
	Cluster *Cluster `yaml:"cluster"`
	// Voting is how a cluster's locations decide a check's status
	// (voting.go); without a cluster it has no effect.
	Voting Voting `yaml:"voting"`

	// Proxies is TrustedProxies parsed.
	Proxies []*net.IPNet `yaml:"-"`

	// File is the absolute path the config was read from; Dir its folder,
	// against which relative paths resolve. Hash identifies the bytes read.
	File string `yaml:"-"`
	Dir  string `yaml:"-"`
	Hash string `yaml:"-"`
	// Size and ModTime are the file's when it was read, so a change can be
	// noticed without reading it again.
	Size    int64     `yaml:"-"`
	ModTime time.Time `yaml:"-"`
}

// Site describes the public status page.
type Site struct {
	ID          string `yaml:"id"`
	Title       string `yaml:"title"`
	URL         string `yaml:"url"`
	Description string `yaml:"description"`
	TimeZone    string `yaml:"time_zone"`

	Location *time.Location `yaml:"-"`
	// Member names the cluster member serving the page, "ams (eu-west)"
	// ("" on a single node): the footer says which monitor answered.
	Member string `yaml:"-"`
}

// Storage is where the bbolt file lives and how long raw results are kept.
type Storage struct {
	Path         string        `yaml:"path"`
	RawRetention time.Duration `yaml:"raw_retention"`
}

// Component is a public part of the service. Group is a display name; the
// group's id is the slug of that name.
type Component struct {
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Group       string `yaml:"group"`
	Description string `yaml:"description"`
	// DependsOn are components this one needs: while one of them is in an
	// outage, this one's outage is shown as caused by it.
	DependsOn []string `yaml:"depends_on"`
}

// Browser is the Chromium that browser checks drive: a local executable,
// or a remote one by its DevTools URL.
type Browser struct {
	ExecPath    string `yaml:"exec_path"`
	WSURL       string `yaml:"ws_url"`
	Concurrency int    `yaml:"concurrency"`
}

// Check is one private probe feeding a component.
type Check struct {
	Name             string        `yaml:"name"`
	Component        string        `yaml:"component"`
	Interval         time.Duration `yaml:"interval"`
	Schedule         string        `yaml:"schedule"`
	Timeout          time.Duration `yaml:"timeout"`
	FailureThreshold int           `yaml:"failure_threshold"`
	SuccessThreshold int           `yaml:"success_threshold"`
	RecheckInterval  time.Duration `yaml:"recheck_interval"`
	// Affects is "status" (the default: the check decides its
	// component's public status) or "warning" (it tells operators only).
	Affects string `yaml:"affects"`
	// Locations are where the check runs in a cluster (default: every
	// location); Vote overrides voting.vote for it.
	Locations []string `yaml:"locations"`
	Vote      string   `yaml:"vote"`

	probes.Spec `yaml:",inline"`

	// Probe is built from Spec during validation.
	Probe probes.Probe `yaml:"-"`
	// Every is the check's nominal period: Interval, or the gap between
	// two firings of Schedule. Freshness is judged against it.
	Every time.Duration `yaml:"-"`
}

// Connectivity tunes the canary rule.
type Connectivity struct {
	// Threshold is the share of checks down that, with canaries failing too,
	// is attributed to Outpost's own connectivity. Default 0.5.
	Threshold float64 `yaml:"threshold"`
}

// Incidents tunes automatic incidents.
type Incidents struct {
	// Auto opens incidents automatically when components enter an outage.
	Auto *bool `yaml:"auto"`
	// ReopenWindow: a component failing again this soon after its incident
	// resolved reopens that incident instead of opening a new one (flapping).
	ReopenWindow time.Duration `yaml:"reopen_window"`
}

// AutoEnabled reports whether automatic incidents are on (the default).
func (i Incidents) AutoEnabled() bool { return i.Auto == nil || *i.Auto }

// Maintenance is a window, one-off (start + end) or recurring (schedule +
// duration), during which its components are under maintenance.
type Maintenance struct {
	ID         string        `yaml:"id"`
	Name       string        `yaml:"name"`
	Components []string      `yaml:"components"`
	Message    string        `yaml:"message"`
	Start      time.Time     `yaml:"start"`
	End        time.Time     `yaml:"end"`
	Schedule   string        `yaml:"schedule"`
	Duration   time.Duration `yaml:"duration"`
}

// TLS makes Outpost terminate TLS itself on listen, so the page does not
// depend on another proxy.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	ACME     *ACME  `yaml:"acme"`
	// HTTPListen serves a redirect to HTTPS (and ACME http-01 challenges).
	HTTPListen string `yaml:"http_listen"`
}

// Enabled reports whether Outpost serves HTTPS.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.ACME != nil }

// ACME obtains certificates automatically (Let's Encrypt by default).
type ACME struct {
	Domains      []string `yaml:"domains"`
	Email        string   `yaml:"email"`
	CacheDir     string   `yaml:"cache_dir"`
	DirectoryURL string   `yaml:"directory_url"`
	// CAFile is a PEM bundle to trust for the ACME directory itself (a
	// private CA such as step-ca; tests use Pebble).
	CAFile string `yaml:"ca_file"`
}

// Channel is where events are announced.
type Channel struct {
	Name       string   `yaml:"name"`
	Audience   string   `yaml:"audience"` // public | operators
	Events     []string `yaml:"events"`
	Components []string `yaml:"components"`
	// The kind and its fields (notify.Kinds lists the kinds).
	notify.Spec `yaml:",inline"`
	// RateLimit is "N/s", "N/m" or "N/h"; Burst how many may go at once.
	RateLimit string            `yaml:"rate_limit"`
	Burst     int               `yaml:"burst"`
	MaxAge    time.Duration     `yaml:"max_age"`
	Timeout   time.Duration     `yaml:"timeout"`
	Templates map[string]string `yaml:"templates"` // event type → text/template
	// ProfileURL is the channel's public account (https), listed on the
	// subscribe page for public channels; it is read, never fetched.
	ProfileURL string `yaml:"profile_url"`

	// Rate is RateLimit parsed, in events per second.
	Rate float64 `yaml:"-"`
}

// Operators reports an operators' channel.
func (c Channel) Operators() bool { return c.Audience == "operators" }

// Setup is the channel as notify.Build takes it.
func (c Channel) Setup() notify.Setup {
	return notify.Setup{Spec: c.Spec, Name: c.Name, Operators: c.Operators(), Events: c.Events, Components: c.Components,
		Templates: c.Templates, Rate: c.Rate, Burst: c.Burst, MaxAge: c.MaxAge, Timeout: c.Timeout}
}

// Setups are the channels as notify.Build takes them.
func (c *Config) Setups() []notify.Setup {
	out := make([]notify.Setup, len(c.Channels))
	for i, ch := range c.Channels {
		out[i] = ch.Setup()
	}
	return out
}

// Deadman pings an external service while Outpost is healthy, so that
// service notices when Outpost dies or stalls.
type Deadman struct {
	URL      string        `yaml:"url"`
	Interval time.Duration `yaml:"interval"`
	Method   string        `yaml:"method"`
	Timeout  time.Duration `yaml:"timeout"`
}

// Peer is another Outpost watching this one (and watched by it).
type Peer struct {
	Name string `yaml:"name"` // the peer's site.id
	URL  string `yaml:"url"`
	Key  string `yaml:"key"` // shared with that peer (${PEER_KEY})
}

// Peering tunes how peers are polled.
type Peering struct {
	Interval time.Duration `yaml:"interval"`
	Failures int           `yaml:"failures"` // consecutive failed polls before peer_down
}

// Admin holds the admin API's bearer tokens.
type Admin struct {
	Tokens []AdminToken `yaml:"tokens"`
}

// AdminToken is one named token. Its value comes from the environment
// (${OUTPOST_ADMIN_TOKEN}); only its hash is kept after loading.
type AdminToken struct {
	Name     string `yaml:"name"`
	Token    string `yaml:"token"`
	ReadOnly bool   `yaml:"read_only"`
}

// Webhooks configures public webhook subscriptions (docs/webhooks.md).
type Webhooks struct {
	// Enabled opens POST /api/v1/subscriptions to anyone.
	Enabled bool `yaml:"enabled"`
	// AllowHTTP accepts http:// subscriber URLs (https only otherwise).
	AllowHTTP bool `yaml:"allow_http"`
	// AllowPrivateTargets lets deliveries reach loopback, private and
	// link-local addresses: for tests and in-house receivers only.
	AllowPrivateTargets bool `yaml:"allow_private_targets"`
	// PerClient caps the subscriptions one client address may hold.
	PerClient int `yaml:"per_client"`
	// Concurrency bounds deliveries in flight; PerHost bounds them per
	// destination host, so one slow receiver cannot hold up the others.
	Concurrency int `yaml:"concurrency"`
	PerHost     int `yaml:"per_host"`
	// Timeout bounds one delivery attempt (connect, send, read the answer).
	Timeout time.Duration `yaml:"timeout"`
}

// Publish is when public announcements go out.
type Publish struct {
	Mode  string        `yaml:"mode"` // auto | delay | manual
	Delay time.Duration `yaml:"delay"`
}

// Export keeps a static copy of the public site.
type Export struct {
	// Dir, when set, is refreshed after state changes (and at least every
	// Every): a symlink to the newest complete copy.
	Dir   string        `yaml:"dir"`
	Every time.Duration `yaml:"every"`
}

// Metrics tunes /metrics.
// Operators is the operators' listener. /metrics and /api/v1/health name
// checks, targets and files: they are served there, and on the public
// listener only to an admin token.
type Operators struct {
	// Listen is host:port, default 127.0.0.1:9090; "off" serves them only
	// through the public listener with an admin token.
	Listen string `yaml:"listen"`
	// Explicit: Listen was set in the file, so failing to bind it is an
	// error rather than a warning.
	Explicit bool `yaml:"-"`
}

// Off reports that there is no operators' listener.
func (o Operators) Off() bool { return o.Listen == "off" }

type Metrics struct {
	// PerCheckHistograms adds a duration histogram per check.
	PerCheckHistograms bool `yaml:"per_check_histograms"`
}

// Scheduler bounds the probe runner.
type Scheduler struct {
	Concurrency int `yaml:"concurrency"`
}

// Defaults, documented in docs/config.md.
const (
	DefaultListen           = "127.0.0.1:8080"
	DefaultOperatorsListen  = "127.0.0.1:9090"
	DefaultStoragePath      = "data/outpost.db"
	DefaultRawRetention     = 48 * time.Hour
	DefaultInterval         = 60 * time.Second
	DefaultTimeout          = 10 * time.Second
	DefaultFailureThreshold = 3
	DefaultSuccessThreshold = 2
	DefaultRecheckInterval  = 2 * time.Second
	DefaultReopenWindow     = 15 * time.Minute
	DefaultConcurrency      = 256
	MinInterval             = time.Second
)

// ComponentByID returns the component with that id.
func (c *Config) ComponentByID(id string) (Component, bool) {
	for _, x := range c.Components {
		if x.ID == id {
			return x, true
		}
	}
	return Component{}, false
}

// CheckByName returns the check with that name.
func (c *Config) CheckByName(name string) (*Check, bool) {
	for i := range c.Checks {
		if c.Checks[i].Name == name {
			return &c.Checks[i], true
		}
	}
	return nil, false
}
