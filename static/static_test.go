package static

import (
	"runtime"
	"testing"
)

// The assets' types came from mime.TypeByExtension, whose first call
// loads the system's MIME databases into maps kept for the process's life
// (about 430 KB on a Debian host, and types that vary by host). Three
// embedded kinds need three names.
func TestAssetsHoldTheirBodiesOnly(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	assets, err := Assets()
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	bodies := 0
	for _, a := range assets {
		bodies += len(a.Body)
	}
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc) - int64(bodies)
	t.Logf("%d assets hold %d bytes beside their %d bytes of bodies", len(assets), held, bodies)
	if held > 64<<10 {
		t.Errorf("the assets hold %d bytes beside their bodies (limit 64 KiB)", held)
	}
	for name, want := range map[string]string{"style.css": "text/css; charset=utf-8", "outpost.js": "text/javascript; charset=utf-8",
		"favicon.svg": "image/svg+xml"} {
		if a := assets[name]; a == nil || a.ContentType != want {
			t.Errorf("%s: %+v, want type %q", name, a, want)
		}
	}
	for name, a := range assets { // a new kind of asset needs its type in contentType
		if a.ContentType == "application/octet-stream" {
			t.Errorf("%s has no type: add its extension to contentType", name)
		}
	}
	runtime.KeepAlive(assets)
}
