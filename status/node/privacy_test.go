package node

import (
	"testing"

	"github.com/outpost-status/outpost/status/web"
)

// The privacy notice (/subscribe, the manage page) says how long email
// deliveries and unconfirmed subscribers are kept: what the node's email
// loop really keeps.
func TestPrivacyNoticeSaysTheRealRetention(t *testing.T) {
	if web.EmailDeliveriesKept != emailRetention || web.EmailUnconfirmedKept != forgetUnconfirmed {
		t.Fatalf("the notice says deliveries %v and unconfirmed %v; the loop keeps %v and %v",
			web.EmailDeliveriesKept, web.EmailUnconfirmedKept, emailRetention, forgetUnconfirmed)
	}
}
