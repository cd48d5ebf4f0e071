package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// raftReport is a fixed raft report, as hashicorp/raft's Stats gives one.
type raftReport map[string]string

func (r raftReport) Stats() map[string]string { return r }

// Raft's report becomes gauges; what it does not say (last contact
// "never", no num_peers) is left out, not shown as 0.
func TestClusterSeriesFromRaftReport(t *testing.T) {
	for _, tc := range []struct {
		name    string
		report  raftReport
		want    []string
		missing []string
	}{
		{"follower", raftReport{"state": "Follower", "term": "3", "num_peers": "2", "last_contact": "1.5s"},
			[]string{`outpost_cluster_raft_state{state="Follower"} 1`, `outpost_cluster_raft_state{state="Leader"} 0`,
				"outpost_cluster_raft_term 3", "outpost_cluster_raft_peers 2", "outpost_cluster_raft_last_contact_seconds 1.5"}, nil},
		{"leader", raftReport{"state": "Leader", "last_contact": "0"},
			[]string{`outpost_cluster_raft_state{state="Leader"} 1`, "outpost_cluster_raft_last_contact_seconds 0"},
			[]string{"outpost_cluster_raft_peers"}},
		{"never heard", raftReport{"state": "Candidate", "last_contact": "never"},
			[]string{`outpost_cluster_raft_state{state="Candidate"} 1`}, []string{"outpost_cluster_raft_last_contact_seconds"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(Options{Version: "test"})
			m.Cluster(tc.report, nil)
			body := exposition(t, m)
			for _, w := range tc.want {
				if !strings.Contains(body, w+"\n") {
					t.Errorf("missing %q", w)
				}
			}
			for _, w := range tc.missing {
				if strings.Contains(body, w+" ") {
					t.Errorf("%s shown though raft did not report it", w)
				}
			}
		})
	}
}

func exposition(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}
