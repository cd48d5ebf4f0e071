package web

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var linkRe = regexp.MustCompile(`(?:href|src)="([^"]+)"`)

// Every link and asset in the exported HTML resolves to an exported file,
// as a static host would serve it (a folder's index.html for a page).
func TestExportLinksResolve(t *testing.T) {
	s, snap := testServer(t)
	files, err := s.Files(snap)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "site")
	if err := Publish(dir, files); err != nil {
		t.Fatal(err)
	}
	exists := func(p string) bool { _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p))); return err == nil }
	for _, want := range []string{"index.html", "api/v1/status.json", "api/v2/summary.json", "api/v2/incidents/unresolved.json",
		"feed.atom", "history.rss", "maintenance.ics", "badge/api.svg", "badge/api/uptime-7d.svg", "badge/api/uptime.svg",
		"history/index.html", "history/1/index.html", "404.html", "incidents/" + snap.Recent[len(snap.Recent)-1].ID + "/index.html"} {
		if !exists(want) {
			t.Errorf("export lacks %s", want)
		}
	}
	checked := 0
	for _, f := range files {
		if !strings.HasSuffix(f.Path, ".html") {
			continue
		}
		// /subscribe takes a form: a static copy cannot, so its link
		// leads to the live site.
		if !strings.Contains(string(f.Body), `href="https://status.acme.test/subscribe"`) {
			t.Errorf("%s: no link to the live site's /subscribe", f.Path)
		}
		for _, m := range linkRe.FindAllStringSubmatch(string(f.Body), -1) {
			if m[1] == "https://status.acme.test/subscribe" {
				continue
			}
			link := strings.TrimPrefix(m[1], "https://status.acme.test")
			if !strings.HasPrefix(link, "/") {
				t.Errorf("%s: link %q is neither site-relative nor on the site", f.Path, m[1])
				continue
			}
			if strings.Contains(link, "?") {
				t.Errorf("%s: link %q has a query a static host cannot serve", f.Path, link)
				continue
			}
			p := strings.TrimPrefix(link, "/")
			if !(p == "" && exists("index.html")) && !exists(p) && !exists(p+"/index.html") {
				t.Errorf("%s: link %q resolves to no exported file", f.Path, link)
			}
			checked++
		}
	}
	if checked < 50 {
		t.Fatalf("only %d links checked", checked)
	}
}

func TestPublishSwapsAtomically(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "site")
	for i, body := range []string{"one", "two", "three"} {
		if err := Publish(dir, []File{{Path: "index.html", Body: []byte(body)}}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "index.html")); string(b) != body {
			t.Fatalf("after publish %d: %q", i, b)
		}
	}
	if fi, _ := os.Lstat(dir); fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the live path is not a symlink")
	}
	if vs, _ := os.ReadDir(dir + ".versions"); len(vs) != 2 {
		t.Errorf("%d versions kept, want the current and previous", len(vs))
	}
	real := filepath.Join(t.TempDir(), "real")
	os.Mkdir(real, 0o755)
	if err := Publish(real, nil); err == nil {
		t.Error("publishing over a real folder was allowed")
	}
}

func TestTarRoundTrip(t *testing.T) {
	in := []File{{Path: "index.html", Body: []byte("<p>hi</p>")}, {Path: "api/v2/status.json", Body: []byte("{}")}}
	var buf bytes.Buffer
	if err := WriteTar(&buf, in, t0); err != nil {
		t.Fatal(err)
	}
	out, err := ReadTar(&buf)
	if err != nil || len(out) != 2 || string(out[1].Body) != "{}" || out[1].Path != "api/v2/status.json" {
		t.Fatalf("%+v %v", out, err)
	}
	var evil bytes.Buffer
	_ = WriteTar(&evil, []File{{Path: "../../etc/passwd", Body: []byte("x")}}, t0)
	if _, err := ReadTar(&evil); err == nil {
		t.Error("an archive escaping its folder was accepted")
	}
}
