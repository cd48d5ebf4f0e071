package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/outpost-status/outpost/status/store"
)

// BlueskyLimit is a post's length in graphemes.
const BlueskyLimit = 300

// DefaultBlueskyServer is the PDS for bsky.social accounts.
const DefaultBlueskyServer = "https://bsky.social"

// Sessions keeps a Bluesky session's rotating refresh token across
// restarts (session creation is rate-limited); StoredSessions keeps it in
// the store's node-local file.
type Sessions interface {
	Setting(key string) (string, error)
	SetSetting(key, value string) error
}

// StoredSessions keeps sessions in the store's local file, not through
// the Log: a session is the node's own (each use rotates its refresh
// token, so two nodes cannot share one), no replicated state.
type StoredSessions struct {
	Store *store.Store
}

// Setting reads a stored value.
func (s StoredSessions) Setting(key string) (string, error) { return s.Store.LocalSetting(key) }

// SetSetting stores a value in the local file.
func (s StoredSessions) SetSetting(key, value string) error {
	return s.Store.SetLocalSetting(key, value)
}

// Bluesky posts with plain XRPC. The record key is a TID derived from the
// outbox row, and records are written with putRecord: a re-send after a
// crash writes the same record again instead of a second post.
type Bluesky struct {
	base, handle, password string
	hc                     *http.Client
	sessions               Sessions

	mu     sync.Mutex
	access string
	did    string
}

var _ Notifier = (*Bluesky)(nil)

// NewBluesky posts as handle with an app password.
func NewBluesky(server, handle, appPassword string, hc *http.Client, s Sessions) *Bluesky {
	if server == "" {
		server = DefaultBlueskyServer
	}
	return &Bluesky{base: strings.TrimRight(server, "/"), handle: handle, password: appPassword, hc: hc, sessions: s}
}

// Idempotent: the same row writes the same record.
func (b *Bluesky) Idempotent() bool { return true }

func (b *Bluesky) key(k string) string { return "bluesky/" + b.handle + "/" + k }

// xrpcError is an XRPC error answer.
type xrpcError struct {
	Status int
	Name   string `json:"error"`
	Msg    string `json:"message"`
}

func (e *xrpcError) Error() string { return fmt.Sprintf("bluesky: %d %s: %s", e.Status, e.Name, e.Msg) }

func (e *xrpcError) expired() bool { return e.Name == "ExpiredToken" || e.Name == "InvalidToken" }

// call performs one XRPC procedure.
func (b *Bluesky) call(ctx context.Context, nsid, bearer string, in, out any) error {
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.base+"/xrpc/"+nsid, strings.NewReader(string(body)))
	if err != nil {
		return &PermanentError{Err: err}
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		return fmt.Errorf("bluesky %s: %w", nsid, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		e := &xrpcError{Status: resp.StatusCode}
		_ = json.NewDecoder(resp.Body).Decode(e)
		if resp.StatusCode >= 500 || resp.StatusCode == 429 || e.expired() {
			return e
		}
		return &PermanentError{Err: e}
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

type session struct {
	Access  string `json:"accessJwt"`
	Refresh string `json:"refreshJwt"`
	DID     string `json:"did"`
}

// login refreshes the stored session, or creates one when there is none
// or it can no longer be refreshed.
func (b *Bluesky) login(ctx context.Context, forceNew bool) error {
	var s session
	refresh, err := b.sessions.Setting(b.key("refresh"))
	if err != nil {
		return fmt.Errorf("reading the stored session: %w", err)
	}
	err = errors.New("no session")
	if refresh != "" && !forceNew {
		err = b.call(ctx, "com.atproto.server.refreshSession", refresh, nil, &s)
	}
	if err != nil {
		if err := b.call(ctx, "com.atproto.server.createSession", "", map[string]string{"identifier": b.handle, "password": b.password}, &s); err != nil {
			return err
		}
	}
	// The refresh token rotates on each refresh: keep the new one.
	if err := b.sessions.SetSetting(b.key("refresh"), s.Refresh); err != nil {
		return err
	}
	b.access, b.did = s.Access, s.DID
	return nil
}

// Send writes the post for m.
func (b *Bluesky) Send(ctx context.Context, m Message) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.access == "" {
		if err := b.login(ctx, false); err != nil {
			return "", err
		}
	}
	rkey := TID(m.Event.At, m.Seq)
	var out struct {
		URI string `json:"uri"`
		CID string `json:"cid"`
	}
	put := func() error {
		return b.call(ctx, "com.atproto.repo.putRecord", b.access, map[string]any{
			"repo": b.did, "collection": "app.bsky.feed.post", "rkey": rkey, "record": b.record(m)}, &out)
	}
	err := put()
	var xe *xrpcError
	if errors.As(err, &xe) && xe.expired() {
		b.access = ""
		if err = b.login(ctx, false); err == nil {
			err = put()
		}
	}
	if err != nil {
		return "", err
	}
	return out.URI + " " + out.CID, nil
}

// record builds an app.bsky.feed.post with a link facet and, for updates,
// a reply to the incident's first post.
func (b *Bluesky) record(m Message) map[string]any {
	rec := map[string]any{"$type": "app.bsky.feed.post", "text": m.Text, "createdAt": m.Event.At.UTC().Format(time.RFC3339Nano), "langs": []string{"en"}}
	if m.URL != "" {
		if i := strings.LastIndex(m.Text, m.URL); i >= 0 { // facet offsets are UTF-8 bytes
			rec["facets"] = []map[string]any{{
				"index":    map[string]int{"byteStart": i, "byteEnd": i + len(m.URL)},
				"features": []map[string]string{{"$type": "app.bsky.richtext.facet#link", "uri": m.URL}},
			}}
		}
	}
	if uri, cid, ok := strings.Cut(m.ReplyTo, " "); ok {
		ref := map[string]string{"uri": uri, "cid": cid}
		rec["reply"] = map[string]any{"root": ref, "parent": ref}
	}
	return rec
}

const tidAlphabet = "234567abcdefghijklmnopqrstuvwxyz"

// TID is a record key from a time and a sequence: 53 bits of microseconds
// and 10 bits of "clock id", base32-sortable, 13 characters. The same row
// always gives the same key.
func TID(t time.Time, seq uint64) string {
	v := (uint64(t.UnixMicro())&(1<<53-1))<<10 | seq&0x3FF
	out := make([]byte, 13)
	for i := 12; i >= 0; i-- {
		out[i] = tidAlphabet[v&31]
		v >>= 5
	}
	return string(out)
}

// BlueskyLength approximates graphemes: combining marks, variation
// selectors and zero-width-joined sequences count with their base.
func BlueskyLength(s string) int {
	n, joined := 0, false
	for _, r := range s {
		switch {
		case joined:
			joined = false
		case r == 0x200D:
			joined = true
		case unicode.Is(unicode.Mn, r), unicode.Is(unicode.Me, r), r >= 0xFE00 && r <= 0xFE0F:
		default:
			n++
		}
	}
	return n
}
