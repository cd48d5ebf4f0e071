package status

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
)

func TestVoteRules(t *testing.T) {
	for _, tc := range []struct {
		rule           VoteRule
		yes, seeing    int
		passes, isRule bool
	}{
		{"", 2, 3, true, true},
		{VoteMajority, 2, 3, true, true},
		{VoteMajority, 1, 3, false, true},
		{VoteMajority, 1, 2, false, true}, // half is not more than half
		{VoteMajority, 2, 2, true, true},
		{VoteMajority, 0, 0, false, true},
		{VoteAny, 1, 3, true, true},
		{VoteAny, 0, 3, false, true},
		{VoteAll, 2, 3, false, true},
		{VoteAll, 3, 3, true, true},
		{"2", 2, 4, true, true},
		{"2", 1, 4, false, true},
		{"3", 2, 2, true, true}, // a number above those who can see: all of them
		{"0", 1, 1, true, false},
		{"most", 1, 1, true, false},
	} {
		if got := tc.rule.Passes(tc.yes, tc.seeing); got != tc.passes {
			t.Errorf("%q passes %d of %d: %v, want %v", tc.rule, tc.yes, tc.seeing, got, tc.passes)
		}
		if tc.rule.Valid() != tc.isRule {
			t.Errorf("%q valid: %v, want %v", tc.rule, tc.rule.Valid(), tc.isRule)
		}
	}
}

var threeLocations = []string{"ap-southeast", "eu-west", "us-east"}

func voteModel(v Voting) *Model {
	m := testModel()
	m.Locations = threeLocations
	m.Voting = v
	return m
}

// at runs check from each location in locs once, two seconds on.
func (h *harness) at(check string, o probes.Outcome, locs ...string) *Changes {
	h.now = h.now.Add(2 * time.Second)
	var rs []CheckResult
	for _, l := range locs {
		rs = append(rs, CheckResult{Check: check, At: h.now, Location: l, Result: probes.Result{Outcome: o, Reason: probes.ReasonTimeout}})
	}
	return h.step(rs...)
}

// rechecksAt lists where a step asked check to run again at once.
func rechecksAt(ch *Changes, check string, now time.Time) []string {
	var out []string
	for _, rc := range ch.Rechecks {
		if rc.Check == check && rc.At.Equal(now) {
			out = append(out, rc.Locations...)
		}
	}
	slices.Sort(out)
	return out
}

func TestVoteOneLocationFailingIsRegional(t *testing.T) {
	for _, tc := range []struct {
		regional Regional
		want     ComponentStatus
	}{{"", DegradedPerformance}, {RegionalIgnore, Operational}} {
		h := newHarness(t, voteModel(Voting{Regional: tc.regional}))
		h.at("api-1", probes.Up, threeLocations...)
		h.at("api-2", probes.Up, threeLocations...)
		ch := h.at("api-1", probes.Down, "eu-west")
		if got := rechecksAt(ch, "api-1", h.now); !slices.Equal(got, []string{"ap-southeast", "us-east"}) {
			t.Fatalf("the first failure asked for re-checks at %v, want the other two locations at once", got)
		}
		if r := h.e.State().Checks["api-1"].Round; r == nil {
			t.Fatal("no round opened by the first failure")
		}
		h.at("api-1", probes.Up, "ap-southeast", "us-east")
		cs := h.e.State().Checks["api-1"]
		if cs.Round != nil || cs.Status != CheckUp {
			t.Fatalf("round %+v, status %s: want decided, up", cs.Round, cs.Status)
		}
		var all []EventType
		for range 3 { // eu-west's own thresholds (3) confirm its failure
			all = append(all, eventTypes(h.at("api-1", probes.Down, "eu-west"))...)
			all = append(all, eventTypes(h.at("api-1", probes.Up, "ap-southeast", "us-east"))...)
		}
		if !slices.Equal(cs.Regional, []string{"eu-west"}) {
			t.Fatalf("regional %v, want [eu-west]", cs.Regional)
		}
		if got := h.comp("api"); got != tc.want {
			t.Fatalf("regional %q: component %s, want %s", tc.regional, got, tc.want)
		}
		if len(h.open()) != 0 || cs.Status != CheckUp {
			t.Fatalf("a failure from one location opened %d incidents, status %s", len(h.open()), cs.Status)
		}
		if n := count(all, CheckRegional); n != 1 {
			t.Fatalf("check.regional %d times in %v, want once", n, all)
		}
		// Back from eu-west: cleared only after three periods of up.
		for range 2 {
			h.at("api-1", probes.Up, "eu-west")
		}
		if len(cs.Regional) == 0 {
			t.Fatal("regional cleared at once: a flapping location would make one period per flap")
		}
		h.now = h.now.Add(90 * time.Second)
		ch = h.at("api-1", probes.Up, threeLocations...)
		if len(cs.Regional) != 0 || !hasEvent(ch, CheckRegionalCleared) || h.comp("api") != Operational {
			t.Fatalf("after 90 s up: regional %v, events %v, component %s", cs.Regional, eventTypes(ch), h.comp("api"))
		}
	}
}

func count(ts []EventType, want EventType) int {
	n := 0
	for _, t := range ts {
		if t == want {
			n++
		}
	}
	return n
}

func TestVoteTwoLocationsFailingIsAnOutage(t *testing.T) {
	h := newHarness(t, voteModel(Voting{}))
	h.at("api-1", probes.Up, threeLocations...)
	h.at("api-2", probes.Up, threeLocations...)
	h.at("api-1", probes.Down, "eu-west")
	h.at("api-2", probes.Down, "eu-west")
	h.at("api-1", probes.Down, "us-east")
	h.at("api-2", probes.Down, "us-east")
	if st := h.e.State().Checks["api-1"].Status; st != CheckUp {
		t.Fatalf("decided before ap-southeast answered: %s", st)
	}
	ch := h.at("api-1", probes.Up, "ap-southeast")
	h.at("api-2", probes.Up, "ap-southeast")
	if st := h.e.State().Checks["api-1"].Status; st != CheckDown {
		t.Fatalf("two of three down: %s, want down", st)
	}
	if h.comp("api") != MajorOutage || len(h.open()) != 1 || !hasEvent(ch, IncidentCreated) { // api-1's verdict opened it
		t.Fatalf("component %s, %d open incidents, events %v", h.comp("api"), len(h.open()), eventTypes(ch))
	}
	// Recovery is confirmed the same way: one location's up opens a round.
	h.at("api-1", probes.Up, "eu-west")
	h.at("api-2", probes.Up, "eu-west")
	if st := h.e.State().Checks["api-1"].Status; st != CheckDown {
		t.Fatalf("one location's success recovered the check: %s", st)
	}
	h.at("api-1", probes.Up, "us-east", "ap-southeast")
	h.at("api-2", probes.Up, "us-east", "ap-southeast")
	if h.comp("api") != Operational || len(h.open()) != 0 {
		t.Fatalf("after a round of up: component %s, %d open", h.comp("api"), len(h.open()))
	}
}

// A location that does not answer within the round's wait is out of the
// vote: the round is decided at its deadline by those who answered.
func TestVoteRoundDecidedAtItsDeadline(t *testing.T) {
	h := newHarness(t, voteModel(Voting{}))
	h.at("db-1", probes.Up, threeLocations...)
	h.at("db-1", probes.Down, "eu-west", "us-east")
	if st := h.e.State().Checks["db-1"].Status; st != CheckUp {
		t.Fatalf("decided while ap-southeast could still answer: %s", st)
	}
	h.now = h.now.Add(31 * time.Second)
	h.step() // no result at all: the deadline alone decides
	if st := h.e.State().Checks["db-1"].Status; st != CheckDown {
		t.Fatalf("at the deadline: %s, want down (2 of 2 answers)", st)
	}
}

// Fewer locations able to see than min_locations confirm nothing, and
// operators are told once.
func TestVoteTooFewLocations(t *testing.T) {
	h := newHarness(t, voteModel(Voting{MinLocations: 3}))
	h.at("db-1", probes.Up, "eu-west", "us-east") // ap-southeast never ran it
	var all []EventType
	for range 3 {
		all = append(all, eventTypes(h.at("db-1", probes.Down, "eu-west", "us-east"))...)
		h.now = h.now.Add(31 * time.Second)
		all = append(all, eventTypes(h.step())...)
	}
	if st := h.e.State().Checks["db-1"].Status; st != CheckUp {
		t.Fatalf("two locations decided under min_locations 3: %s", st)
	}
	if n := count(all, CheckUnconfirmed); n != 1 {
		t.Fatalf("check.unconfirmed %d times in %v, want once", n, all)
	}
	if len(h.open()) != 0 {
		t.Fatal("an incident without a confirmed verdict")
	}
}

// A location whose canaries fail is out of the vote: its failures do not
// count, and the others decide.
func TestVoteCutOffLocationIsOut(t *testing.T) {
	m := voteModel(Voting{})
	m.Checks = append(m.Checks, CheckDef{Name: "canary", Canary: true, FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second})
	h := newHarness(t, m)
	h.at("canary", probes.Up, threeLocations...)
	h.at("db-1", probes.Up, threeLocations...)
	h.at("canary", probes.Down, "eu-west")
	h.at("db-1", probes.Down, "eu-west")
	h.at("db-1", probes.Up, "us-east", "ap-southeast")
	cs := h.e.State().Checks["db-1"]
	if cs.Status != CheckUp || cs.Round != nil || len(cs.Regional) != 0 {
		t.Fatalf("a cut-off location's failure: status %s, round %+v, regional %v", cs.Status, cs.Round, cs.Regional)
	}
	if h.comp("db") != Operational {
		t.Fatalf("component %s", h.comp("db"))
	}
}

// The same answers in any order give the same verdict and the same
// state, on every engine that applies them.
func TestVoteSameAnswersAnyOrder(t *testing.T) {
	outcomes := []probes.Outcome{probes.Up, probes.Down, probes.Degraded}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		answers := make([]probes.Outcome, 3)
		for i := range answers {
			answers[i] = outcomes[rng.IntN(3)]
		}
		var verdict CheckStatus
		for p, perm := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {0, 2, 1}} {
			h := newHarness(t, voteModel(Voting{}))
			h.at("db-1", probes.Up, threeLocations...)
			for _, i := range perm {
				h.at("db-1", answers[i], threeLocations[i])
			}
			h.now = h.now.Add(31 * time.Second)
			h.step()
			got := h.e.State().Checks["db-1"].Status
			if p == 0 {
				verdict = got
			} else if got != verdict {
				t.Fatalf("trial %d: answers %v in order %v gave %s, in the first order %s", trial, answers, perm, got, verdict)
			}
		}
	}
}

// Two engines applying the same multi-location batches reach the same
// state, byte for byte.
func TestVoteDeterminism(t *testing.T) {
	run := func() []byte {
		h := newHarness(t, voteModel(Voting{}))
		rng := rand.New(rand.NewPCG(7, 7))
		for range 300 {
			var rs []CheckResult
			h.now = h.now.Add(time.Duration(1+rng.IntN(5)) * time.Second)
			for range 1 + rng.IntN(4) {
				o := probes.Up
				if rng.IntN(3) == 0 {
					o = probes.Down
				}
				rs = append(rs, CheckResult{Check: h.e.m.Checks[rng.IntN(4)].Name, At: h.now, Location: threeLocations[rng.IntN(3)],
					Result: probes.Result{Outcome: o, Reason: probes.ReasonTimeout}})
			}
			h.step(rs...)
		}
		b, err := json.Marshal(h.e.State())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b := run(), run()
	if string(a) != string(b) {
		t.Fatal("two engines over the same batches differ")
	}
}

// A result from a location the check does not run from moves nothing.
func TestVoteIgnoresOtherLocations(t *testing.T) {
	m := voteModel(Voting{})
	m.Checks[3].Locations = []string{"eu-west", "us-east"}
	h := newHarness(t, m)
	h.at("db-1", probes.Up, "eu-west", "us-east")
	ch := h.at("db-1", probes.Down, "ap-southeast", "")
	if len(ch.Results) != 0 || h.e.State().Checks["db-1"].Round != nil {
		t.Fatalf("results from outside the check's locations counted: %v", ch.Results)
	}
}
