package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/outpost-status/outpost/status/email/mtatest"
	"github.com/outpost-status/outpost/status/store"
)

// siteHost is the e2e site's public name: the browser and the test's
// client reach it on the binary's loopback port, over TLS with a
// certificate for that name, so the form's Origin and the mails' https
// links are the site's own.
const siteHost = "status.example.com"

// issueSite writes a certificate for siteHost (and 127.0.0.1, for the
// start-up probe) signed by the test CA.
func (p *testPKI) issueSite(t *testing.T, certPath, keyPath string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: siteHost},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), DNSNames: []string{siteHost},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	writePEMBlock(t, certPath, "CERTIFICATE", der)
	writePEMBlock(t, keyPath, "EC PRIVATE KEY", kb)
}

func writePEMBlock(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// siteClient is a plain HTTP client, as a mailbox provider's, that
// reaches https://siteHost at addr and verifies the certificate.
func siteClient(pool *x509.CertPool, addr string) *http.Client {
	dial := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dial.DialContext(ctx, network, addr)
		},
	}}
}

// chromium starts Debian's headless Chromium with siteHost:443 mapped to
// addr. Without it the test skips, except under CI, where .ci/run
// installs it and a skip would hide a gap.
func chromium(t *testing.T, addr string) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium missing in CI: .ci/run must install it")
		}
		t.Skip("no chromium (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("host-resolver-rules", "MAP "+siteHost+":443 "+addr),
		// The test CA is not in Chromium's store; the test's own client
		// verifies the same certificate against it.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	return ctx
}

// heading is the text of the element sel picks on the browser's page,
// "" while there is none.
func heading(ctx context.Context, sel string) string {
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(`+jsString(sel)+`)||{}).textContent||""`))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(v)
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

// parts are a delivered mail's header and its decoded text and HTML.
type parts struct {
	hdr        mail.Header
	text, html string
}

func mailParts(t *testing.T, m mtatest.Message) parts {
	t.Helper()
	out := parts{hdr: m.Header}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(bytes.NewReader(m.Body), params["boundary"])
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
			body = base64.NewDecoder(base64.StdEncoding, p)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			out.text = strings.ReplaceAll(string(b), "\r\n", "\n")
		case "text/html":
			out.html = string(b)
		}
	}
	if out.text == "" || out.html == "" {
		t.Fatalf("a mail without both parts: text %d bytes, html %d bytes", len(out.text), len(out.html))
	}
	return out
}

// mailsFor are the Maildir's messages delivered to addr, in order.
func mailsFor(t *testing.T, mta *mtatest.Server, addr string) []mtatest.Message {
	t.Helper()
	all, err := mta.Messages()
	if err != nil {
		t.Fatal(err)
	}
	var out []mtatest.Message
	for _, m := range all {
		if m.Recipient() == addr {
			out = append(out, m)
		}
	}
	return out
}

// emailHealth is the email part of /api/v1/health.
func emailHealth(p *outpostProc) store.WebhookStats {
	body, _ := fetch(p.ops, "/api/v1/health")
	var h struct {
		Email store.WebhookStats `json:"email"`
	}
	_ = json.Unmarshal([]byte(body), &h)
	return h.Email
}

var (
	confirmLinkLine = regexp.MustCompile(`(?m)^https://` + regexp.QuoteMeta(siteHost) + `/confirm/[A-Za-z0-9_-]+$`)
	eventMessageID  = regexp.MustCompile(`^<outpost\.evt-[0-9]+\.[A-Za-z0-9_-]+@` + regexp.QuoteMeta(siteHost) + `>$`)
)

// TestEmailEndToEndThroughBrowserAndPostfix is the issue's end-to-end
// test: the real binary (TLS for the site's name), headless Chromium, and
// a real Postfix delivering into a Maildir. A person subscribes on the
// form, confirms from the mail (the link's GET shows a button, the click
// confirms), hears of an outage and its resolution in one thread, and
// leaves with the mail's one-click URL, posted as a mailbox provider
// does; the next incident reaches a witness and not them.
func TestEmailEndToEndThroughBrowserAndPostfix(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary, Chromium and Postfix")
	}
	mta := mtatest.Start(t)
	var down atomic.Bool
	tg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer tg.Close()
	dir := t.TempDir()
	pki := newPKI(t)
	pki.issueSite(t, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	listen, cfg := closedAddr(t), filepath.Join(dir, "config.yaml")
	host, port, _ := net.SplitHostPort(mta.Addr())
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
site: {title: Acme Status, url: "https://%s"}
listen: %s
tls: {cert_file: cert.pem, key_file: key.pem}
storage: {path: outpost.db}
components: [{id: api, name: Public API}]
checks:
  - {name: api-home, component: api, kind: http, target: "%s/", interval: 1s, failure_threshold: 1, success_threshold: 1}
email:
  from: "Acme Status <status@example.com>"
  smtp: {host: %s, port: %s, tls: none}
%s`, siteHost, listen, tg.URL, host, port, opsLine(t))), 0o600); err != nil {
		t.Fatal(err)
	}
	const witness, ann = "s000@witness.example", "ann@example.org"
	seedEmailSubscribers(t, filepath.Join(dir, "outpost.db"), 1, "witness.example")
	client := siteClient(pki.pool, listen)
	p := startOutpostWith(t, outpostBinary(t), cfg, "https://"+listen, &http.Client{Timeout: 5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.pool}}})
	site := "https://" + siteHost
	ctx := chromium(t, listen)
	start := time.Now()

	// Subscribe through the form, in the browser.
	if err := chromedp.Do(ctx, chromedp.Navigate(site+"/subscribe"), chromedp.WaitVisible(chromedp.CSS("#f-email")),
		chromedp.SendKeys(chromedp.CSS("#f-email"), ann), chromedp.Click(chromedp.CSS("form.subscribe button[type=submit]"))); err != nil {
		t.Fatalf("the subscribe form in Chromium: %v\n%s", err, p.log())
	}
	waitFor(t, 10*time.Second, `the form's "Check your inbox"`, func() bool { return heading(ctx, "#done") == "Check your inbox" }, p)

	// The confirmation mail; its link's GET shows a button and changes
	// nothing, the click confirms.
	waitFor(t, 15*time.Second, "the confirmation mail in the Maildir", func() bool { return len(mailsFor(t, mta, ann)) == 1 }, p)
	conf := mailParts(t, mailsFor(t, mta, ann)[0])
	link := confirmLinkLine.FindString(conf.text)
	if link == "" {
		t.Fatalf("no bare confirm link on a line of its own:\n%s", conf.text)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("main form button"))); err != nil {
		t.Fatalf("the confirm link in Chromium: %v", err)
	}
	if label, h := heading(ctx, "main form button"), emailHealth(p); label != "Confirm" || h.Subscriptions[store.SubPending] != 1 {
		t.Fatalf("the link's GET: button %q, subscribers %v (want one still pending)", label, h.Subscriptions)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("main form button"))); err != nil {
		t.Fatalf("clicking Confirm: %v", err)
	}
	waitFor(t, 10*time.Second, "the confirmed page", func() bool { return heading(ctx, "main h2") == "Subscription confirmed" }, p)
	waitFor(t, 5*time.Second, "ann confirmed", func() bool { return emailHealth(p).Subscriptions[store.SubActive] == 2 }, p)

	// An outage and its resolution: one thread.
	down.Store(true)
	waitFor(t, 20*time.Second, "the incident's mail", func() bool { return len(mailsFor(t, mta, ann)) == 2 }, p)
	down.Store(false)
	waitFor(t, 20*time.Second, "the resolution's mail", func() bool { return len(mailsFor(t, mta, ann)) == 3 }, p)
	// By subject, not by the Maildir's order: two mails delivered in one
	// second may list either way round.
	var opened, resolved parts
	for _, m := range mailsFor(t, mta, ann) {
		switch subject := m.Header.Get("Subject"); {
		case strings.Contains(subject, "Investigating"):
			opened = mailParts(t, m)
		case strings.Contains(subject, "Resolved"):
			resolved = mailParts(t, m)
		}
	}
	if opened.hdr == nil || resolved.hdr == nil {
		t.Fatalf("ann's mails lack the incident's or the resolution's: %d mails", len(mailsFor(t, mta, ann)))
	}
	checkIncidentMail(t, client, opened, "Investigating", start)
	checkIncidentMail(t, client, resolved, "Resolved", start)
	if id := opened.hdr.Get("Message-ID"); resolved.hdr.Get("In-Reply-To") != id || resolved.hdr.Get("References") != id ||
		opened.hdr.Get("In-Reply-To") != "" {
		t.Errorf("threading: the incident's mail %s (In-Reply-To %q); the resolution's In-Reply-To %q, References %q",
			id, opened.hdr.Get("In-Reply-To"), resolved.hdr.Get("In-Reply-To"), resolved.hdr.Get("References"))
	}

	// Leave with one click, as a mailbox provider posts it: no Origin, no
	// cookie, the RFC 8058 body.
	oneClick := strings.Trim(resolved.hdr.Get("List-Unsubscribe"), "<>")
	resp, err := client.Post(oneClick, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := emailHealth(p); resp.StatusCode != http.StatusOK || h.Subscriptions[store.SubActive] != 1 {
		t.Fatalf("one-click POST: %d; subscribers after it %v, want the witness alone", resp.StatusCode, h.Subscriptions)
	}

	// The next incident reaches the witness and, once nothing is left to
	// send, has sent ann nothing.
	heard := len(mailsFor(t, mta, witness))
	down.Store(true)
	waitFor(t, 20*time.Second, "the next incident's mail to the witness", func() bool { return len(mailsFor(t, mta, witness)) == heard+1 }, p)
	waitFor(t, 10*time.Second, "no email delivery open", func() bool { return emailHealth(p).Open == 0 }, p)
	if n := len(mailsFor(t, mta, ann)); n != 3 {
		t.Fatalf("ann has %d mails after leaving, want 3 (confirmation, incident, resolution)", n)
	}
	t.Logf("form to last check: %v", time.Since(start).Round(time.Millisecond))
}

// checkIncidentMail checks one incident mail as delivered: headers, both
// parts, and that its links lead somewhere (the unsubscribe link's GET
// shows a button and changes nothing).
func checkIncidentMail(t *testing.T, client *http.Client, m parts, status string, since time.Time) {
	t.Helper()
	h := m.hdr
	date, err := h.Date()
	unsub := strings.Trim(h.Get("List-Unsubscribe"), "<>")
	subject, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	for _, c := range []struct {
		what string
		ok   bool
	}{
		{"Subject " + subject, strings.HasPrefix(subject, "[Acme Status] "+status+": ")},
		{"To " + h.Get("To"), h.Get("To") == "<ann@example.org>" || h.Get("To") == "ann@example.org"},
		{"Message-ID " + h.Get("Message-ID"), eventMessageID.MatchString(h.Get("Message-ID"))},
		{"Auto-Submitted " + h.Get("Auto-Submitted"), h.Get("Auto-Submitted") == "auto-generated"},
		{fmt.Sprintf("Date %v (%v)", date, err), err == nil && !date.Before(since.Add(-time.Second)) && !date.After(time.Now())},
		{"List-Unsubscribe " + h.Get("List-Unsubscribe"), strings.HasPrefix(unsub, "https://"+siteHost+"/unsubscribe/")},
		{"List-Unsubscribe-Post " + h.Get("List-Unsubscribe-Post"), h.Get("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"},
		{"the text names the component", strings.Contains(m.text, "Public API")},
		{"the HTML names the component", strings.Contains(m.html, "Public API")},
		{"the text has the unsubscribe link", strings.Contains(m.text, unsub)},
		{"the HTML has the unsubscribe link", strings.Contains(m.html, unsub)},
	} {
		if !c.ok {
			t.Errorf("%s mail: %s", status, c.what)
		}
	}
	incident := regexp.MustCompile(`https://` + regexp.QuoteMeta(siteHost) + `/incidents/inc-[0-9]+`).FindString(m.text)
	if incident == "" || !strings.Contains(m.html, `href="`+incident+`"`) {
		t.Fatalf("%s mail: incident link %q in the text, not as a link in the HTML", status, incident)
	}
	for _, u := range []string{incident, unsub} {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || (u == unsub && !strings.Contains(string(b), "</button>")) {
			t.Errorf("%s mail: GET %s: %d", status, u, resp.StatusCode)
		}
	}
}
