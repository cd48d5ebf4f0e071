package notify

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
)

// fakeX is X's API: it verifies OAuth 1.0a HMAC-SHA1 signatures with the
// consumer and token secrets (RFC 5849, written here independently of the
// client library), refuses duplicate text with 403 as X does, and answers
// 201 with data.id.
type fakeX struct {
	mu      sync.Mutex
	secrets [2]string // consumer secret, token secret
	texts   map[string]string
	posts   []map[string]any
	srv     *httptest.Server
}

func newFakeX(t testing.TB, consumerSecret, tokenSecret string) *fakeX {
	f := &fakeX{secrets: [2]string{consumerSecret, tokenSecret}, texts: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2/tweets", func(w http.ResponseWriter, r *http.Request) {
		if err := f.verify(r); err != nil {
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"title":"Unauthorized","detail":%q}`, err.Error())
			return
		}
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		f.post(w, body["text"].(string), body)
	})
	mux.HandleFunc("POST /1.1/statuses/update.json", func(w http.ResponseWriter, r *http.Request) {
		if err := f.verify(r); err != nil {
			w.WriteHeader(401)
			return
		}
		_ = r.ParseForm()
		f.mu.Lock()
		_, dup := f.texts[r.PostForm.Get("status")]
		f.mu.Unlock()
		if dup {
			w.WriteHeader(403)
			io.WriteString(w, `{"errors":[{"code":187,"message":"Status is a duplicate."}]}`)
			return
		}
		id := f.record(r.PostForm.Get("status"), map[string]any{"text": r.PostForm.Get("status"), "in_reply_to_status_id": r.PostForm.Get("in_reply_to_status_id")})
		fmt.Fprintf(w, `{"id_str":%q,"text":%q}`, id, r.PostForm.Get("status"))
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeX) record(text string, body map[string]any) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := fmt.Sprint(1700000000000000000 + len(f.posts))
	f.texts[text] = id
	f.posts = append(f.posts, body)
	return id
}

func (f *fakeX) post(w http.ResponseWriter, text string, body map[string]any) {
	f.mu.Lock()
	_, dup := f.texts[text]
	f.mu.Unlock()
	if dup {
		w.WriteHeader(403)
		io.WriteString(w, `{"detail":"You are not allowed to create a Tweet with duplicate content.","type":"about:blank","title":"Forbidden","status":403}`)
		return
	}
	id := f.record(text, body)
	w.WriteHeader(201)
	fmt.Fprintf(w, `{"data":{"id":%q,"text":%q}}`, id, text)
}

// verify checks the Authorization header's HMAC-SHA1 signature.
func (f *fakeX) verify(r *http.Request) error {
	h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "OAuth ")
	if !ok {
		return fmt.Errorf("no OAuth header")
	}
	params := map[string]string{}
	for part := range strings.SplitSeq(h, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		uv, _ := url.QueryUnescape(strings.Trim(v, `"`))
		params[k] = uv
	}
	sig := params["oauth_signature"]
	delete(params, "oauth_signature")
	if params["oauth_signature_method"] != "HMAC-SHA1" || params["oauth_consumer_key"] == "" || params["oauth_token"] == "" {
		return fmt.Errorf("oauth parameters incomplete: %v", params)
	}
	for k, v := range r.URL.Query() { // query parameters are signed; a JSON body is not
		params[k] = v[0]
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		q, _ := url.ParseQuery(string(b))
		for k, v := range q {
			params[k] = v[0]
		}
	}
	var pairs []string
	for k, v := range params {
		pairs = append(pairs, rfc3986(k)+"="+rfc3986(v))
	}
	sort.Strings(pairs)
	base := "POST&" + rfc3986("http://"+r.Host+r.URL.Path) + "&" + rfc3986(strings.Join(pairs, "&"))
	mac := hmac.New(sha1.New, []byte(rfc3986(f.secrets[0])+"&"+rfc3986(f.secrets[1])))
	mac.Write([]byte(base))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(want), []byte(sig)) {
		return fmt.Errorf("bad signature")
	}
	return nil
}

// rfc3986 percent-encodes everything but unreserved characters.
func rfc3986(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// fakePDS is a Bluesky PDS: sessions with rotating refresh tokens, and
// putRecord, which checks the record the way the network would.
type fakePDS struct {
	mu       sync.Mutex
	t        testing.TB
	password string
	creates  int
	refresh  string // the only valid refresh token
	access   string
	gen      int
	records  map[string]map[string]any // rkey → record
	order    []string
	srv      *httptest.Server
}

func newFakePDS(t testing.TB, password string) *fakePDS {
	f := &fakePDS{t: t, password: password, records: map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /xrpc/com.atproto.server.createSession", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		json.NewDecoder(r.Body).Decode(&in)
		if in["identifier"] != "status.example.com" || in["password"] != f.password {
			xrpcErr(w, 401, "AuthenticationRequired", "Invalid identifier or password")
			return
		}
		f.mu.Lock()
		f.creates++
		f.mu.Unlock()
		f.issue(w)
	})
	mux.HandleFunc("POST /xrpc/com.atproto.server.refreshSession", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		ok := f.refresh != "" && r.Header.Get("Authorization") == "Bearer "+f.refresh
		f.mu.Unlock()
		if !ok {
			xrpcErr(w, 400, "ExpiredToken", "Token has been revoked")
			return
		}
		f.issue(w) // rotates: the old refresh token is now invalid
	})
	mux.HandleFunc("POST /xrpc/com.atproto.repo.putRecord", f.put)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func xrpcErr(w http.ResponseWriter, code int, name, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": name, "message": msg})
}

func (f *fakePDS) issue(w http.ResponseWriter) {
	f.mu.Lock()
	f.gen++
	f.access, f.refresh = fmt.Sprintf("access-%d", f.gen), fmt.Sprintf("refresh-%d", f.gen)
	out := map[string]string{"accessJwt": f.access, "refreshJwt": f.refresh, "did": "did:plc:outposttest", "handle": "status.example.com"}
	f.mu.Unlock()
	json.NewEncoder(w).Encode(out)
}

// expire invalidates the access token, as time would.
func (f *fakePDS) expire() {
	f.mu.Lock()
	f.access = "expired"
	f.mu.Unlock()
}

func (f *fakePDS) put(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	authed := r.Header.Get("Authorization") == "Bearer "+f.access
	f.mu.Unlock()
	if !authed {
		xrpcErr(w, 400, "ExpiredToken", "Token has expired")
		return
	}
	var in struct {
		Repo, Collection, Rkey string
		Record                 map[string]any
	}
	json.NewDecoder(r.Body).Decode(&in)
	rec := in.Record
	problem := ""
	text, _ := rec["text"].(string)
	switch {
	case in.Repo != "did:plc:outposttest" || in.Collection != "app.bsky.feed.post":
		problem = "wrong repo or collection"
	case len(in.Rkey) != 13 || strings.Trim(in.Rkey, tidAlphabet) != "":
		problem = "rkey is not a TID: " + in.Rkey
	case rec["$type"] != "app.bsky.feed.post" || rec["createdAt"] == nil:
		problem = "not a post"
	case BlueskyLength(text) > 300:
		problem = "longer than 300 graphemes"
	}
	if facets, ok := rec["facets"].([]any); ok && problem == "" {
		for _, fc := range facets {
			m := fc.(map[string]any)
			idx := m["index"].(map[string]any)
			start, end := int(idx["byteStart"].(float64)), int(idx["byteEnd"].(float64))
			uri := m["features"].([]any)[0].(map[string]any)["uri"].(string)
			if end > len(text) || text[start:end] != uri {
				problem = fmt.Sprintf("facet %d-%d does not cover %s", start, end, uri)
			}
		}
	}
	if reply, ok := rec["reply"].(map[string]any); ok && problem == "" {
		for _, k := range []string{"root", "parent"} {
			ref, _ := reply[k].(map[string]any)
			if ref == nil || ref["uri"] == nil || ref["cid"] == nil {
				problem = "reply lacks " + k
			}
		}
	}
	if problem != "" {
		xrpcErr(w, 400, "InvalidRequest", problem)
		return
	}
	f.mu.Lock()
	if _, seen := f.records[in.Rkey]; !seen {
		f.order = append(f.order, in.Rkey)
	}
	f.records[in.Rkey] = rec
	f.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]string{"uri": "at://did:plc:outposttest/app.bsky.feed.post/" + in.Rkey, "cid": "bafy" + in.Rkey})
}

func (f *fakePDS) posts() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, k := range f.order {
		out = append(out, f.records[k])
	}
	return out
}

// memSessions is an in-memory Sessions for tests of the notifier alone.
type memSessions map[string]string

func (m memSessions) Setting(k string) (string, error) { return m[k], nil }
func (m memSessions) SetSetting(k, v string) error     { m[k] = v; return nil }
