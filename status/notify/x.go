package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	//lint:ignore SA1019 archived, kept only for api "1.1" accounts, as the product card asks
	"github.com/dghubble/go-twitter/twitter"
	"github.com/dghubble/oauth1"
)

// XLimit is a post's weighted length.
const XLimit = 280

// DefaultXAPI is X's API host.
const DefaultXAPI = "https://api.twitter.com"

// X posts with API v2 (POST /2/tweets), signed with OAuth 1.0a user
// context; api "1.1" uses go-twitter's statuses/update for accounts that
// still have it. X has no idempotency key but refuses duplicate text, and
// every row's text names its update time: a re-send after a crash either
// posts (the first never landed) or is refused as a duplicate (it did),
// which counts as delivered.
type X struct {
	v1   bool
	base string
	hc   *http.Client
	tw   *twitter.Client
}

var _ Notifier = (*X)(nil)

// XCredentials are OAuth 1.0a user-context keys.
type XCredentials struct {
	ConsumerKey, ConsumerSecret, AccessToken, AccessSecret string
}

// NewX builds the channel. base is the API host (DefaultXAPI); transport
// carries the requests (nil: the default).
func NewX(api, base string, c XCredentials, transport http.RoundTripper) *X {
	if base == "" {
		base = DefaultXAPI
	}
	if transport == nil {
		transport = http.DefaultTransport
	}
	ctx := context.WithValue(context.Background(), oauth1.HTTPClient, &http.Client{Transport: transport})
	hc := oauth1.NewConfig(c.ConsumerKey, c.ConsumerSecret).Client(ctx, oauth1.NewToken(c.AccessToken, c.AccessSecret))
	x := &X{v1: api == "1.1", base: strings.TrimRight(base, "/"), hc: hc}
	if x.v1 {
		// go-twitter's base URL is fixed; a non-default host is reached by
		// rewriting requests before they are signed (as go-twitter's own
		// tests do), so the signature names the host actually asked.
		v1 := hc
		if base != DefaultXAPI {
			u, _ := url.Parse(x.base)
			v1 = &http.Client{Transport: rewriteHost{to: u, base: hc.Transport}}
		}
		x.tw = twitter.NewClient(v1)
	}
	return x
}

// Idempotent: a re-send is safe, as X refuses the duplicate text.
func (x *X) Idempotent() bool { return true }

var _ Inerter = (*X)(nil)

// Inert breaks @mentions: they would notify the accounts named.
func (x *X) Inert(text string) string { return noMentions(text) }

// Send posts m.Text (already fitted to XLimit), replying to m.ReplyTo.
func (x *X) Send(ctx context.Context, m Message) (string, error) {
	if x.v1 {
		return x.sendV1(m)
	}
	body := map[string]any{"text": m.Text}
	if m.ReplyTo != "" {
		body["reply"] = map[string]string{"in_reply_to_tweet_id": m.ReplyTo}
	}
	b, err := postJSON(ctx, x.hc, x.base+"/2/tweets", body, "x")
	if err != nil {
		if isDuplicate(err, b) {
			return "", nil // it landed before: delivered
		}
		return "", err
	}
	var r struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Data.ID == "" {
		return "", fmt.Errorf("x: unexpected answer %q", truncate(string(b), 200))
	}
	return r.Data.ID, nil
}

// isDuplicate recognises X's refusal of duplicate content (403).
func isDuplicate(err error, body []byte) bool {
	var p *PermanentError
	return errors.As(err, &p) && strings.Contains(p.Error(), "403") && strings.Contains(strings.ToLower(string(body)), "duplicate")
}

func (x *X) sendV1(m Message) (string, error) {
	params := &twitter.StatusUpdateParams{}
	if id, err := strconv.ParseInt(m.ReplyTo, 10, 64); err == nil {
		params.InReplyToStatusID = id
	}
	tw, resp, err := x.tw.Statuses.Update(m.Text, params)
	if err == nil && resp != nil && resp.StatusCode >= 300 {
		// go-twitter reports errors without Twitter's error body as success.
		err = fmt.Errorf("HTTP %s", resp.Status)
	}
	var api twitter.APIError
	switch {
	case errors.As(err, &api) && len(api.Errors) > 0 && api.Errors[0].Code == 187: // duplicate status
		return "", nil
	case err != nil && resp != nil && resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != 429:
		return "", &PermanentError{Err: fmt.Errorf("x (1.1): %w", err)}
	case err != nil:
		return "", fmt.Errorf("x (1.1): %w", err)
	}
	return tw.IDStr, nil
}

// rewriteHost sends requests to another host (go-twitter's is fixed).
type rewriteHost struct {
	to   *url.URL
	base http.RoundTripper
}

func (r rewriteHost) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host, req.Host = r.to.Scheme, r.to.Host, r.to.Host
	return r.base.RoundTrip(req)
}

// XLength counts as X does: a URL is 23, characters outside the light
// ranges (CJK, emoji, …) count twice.
func XLength(s string) int {
	n := 23 * len(urlRe.FindAllString(s, -1))
	for _, r := range urlRe.ReplaceAllString(s, "") {
		n += xWeight(r)
	}
	return n
}

func xWeight(r rune) int {
	switch {
	case r <= 0x10FF, r >= 0x2000 && r <= 0x200D, r >= 0x2010 && r <= 0x201F, r >= 0x2032 && r <= 0x2037:
		return 1
	}
	return 2
}
