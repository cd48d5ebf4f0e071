package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/store"
)

// A forwarded entry the leader cannot decode (a field it does not know,
// a codec it does not read, no JSON) is refused before it is appended:
// no member could apply it, and the log stays as it was.
func TestLeaderRefusesAnUndecodableForwardedEntry(t *testing.T) {
	leader, _ := leaderAndFollower(t)
	e := results(time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC), "x", probes.Up)
	good, err := store.EncodeEntryAt(e, store.OpenRollupCodec)
	if err != nil {
		t.Fatal(err)
	}
	binary, err := store.EncodeEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"unknown field", `unknown field "inputs.bogus"`, append([]byte{store.OpenRollupCodec}, strings.Replace(string(good[1:]), `"inputs":{`, `"inputs":{"bogus":1,`, 1)...)},
		{"unknown codec", "unknown codec version", append([]byte{store.CodecVersion + 1}, good[1:]...)},
		{"no JSON", "not a JSON object", []byte{store.OpenRollupCodec, 'x'}},
		{"binary results cut short", "entry: results", binary[:len(binary)-1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := leader.node.r.LastIndex()
			a := leader.node.answerForward(tc.data)
			if !strings.Contains(a.Error, tc.want) || a.Result != nil {
				t.Errorf("answer %+v, want the error %q", a, tc.want)
			}
			if after := leader.node.r.LastIndex(); after != before {
				t.Errorf("the log moved from %d to %d", before, after)
			}
		})
	}
}
