package status

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
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
		// Back from eu-west: cleared only once steadily up: five runs in a
		// row over three periods.
		for range 3 {
			h.at("api-1", probes.Up, "eu-west")
		}
		h.now = h.now.Add(100 * time.Second)
		h.at("api-1", probes.Up, "eu-west")
		if len(cs.Regional) == 0 {
			t.Fatal("regional cleared after four runs up: a flapping location would make one period per flap")
		}
		ch = h.at("api-1", probes.Up, threeLocations...)
		if len(cs.Regional) != 0 || !hasEvent(ch, CheckRegionalCleared) || h.comp("api") != Operational {
			t.Fatalf("after five runs over 100 s up: regional %v, events %v, component %s", cs.Regional, eventTypes(ch), h.comp("api"))
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
	ch := h.at("canary", probes.Down, "eu-west")
	if !hasEvent(ch, MonitorLocationFault) || !strings.Contains(ch.Events[0].Text, "eu-west is cut off: 1 of its 1 canaries") {
		t.Fatalf("operators were not told eu-west is cut off: %+v", ch.Events)
	}
	h.at("db-1", probes.Down, "eu-west")
	h.at("db-1", probes.Up, "us-east", "ap-southeast")
	defer func() {
		if ch := h.at("canary", probes.Up, "eu-west"); !hasEvent(ch, MonitorLocationRestored) {
			t.Errorf("eu-west's canaries are up again, events %v", eventTypes(ch))
		}
	}()
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

func hostModel() *Model {
	m := voteModel(Voting{})
	for i, h := range []string{"api.example.com", "api.example.com", "www.example.com", "db.example.com"} {
		m.Checks[i].Host = h
	}
	m.Checks = append(m.Checks, CheckDef{Name: "canary", Canary: true, FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second})
	return m
}

// A location from which several checks against several hosts fail, while
// the others see them all up, is judged at fault (its own network): it
// drops out of the vote instead of showing every component degraded, and
// comes back once they recover there. Its canaries never noticed.
func TestVoteLocationAtFault(t *testing.T) {
	h := newHarness(t, hostModel())
	names := []string{"api-1", "api-2", "web-1", "db-1"}
	all := func(o probes.Outcome, locs ...string) []EventType {
		var evs []EventType
		for _, n := range names {
			evs = append(evs, eventTypes(h.at(n, o, locs...))...)
		}
		return append(evs, eventTypes(h.at("canary", probes.Up, threeLocations...))...) // the canaries see fine
	}
	all(probes.Up, threeLocations...)
	var evs []EventType
	for range 3 {
		evs = append(evs, all(probes.Down, "eu-west")...)
		evs = append(evs, all(probes.Up, "ap-southeast", "us-east")...)
	}
	if _, ok := h.e.State().Faulty["eu-west"]; !ok || count(evs, MonitorLocationFault) != 1 {
		t.Fatalf("faulty %v, events %v: want eu-west judged at fault, once", h.e.State().Faulty, evs)
	}
	for _, id := range []string{"api", "web", "db"} {
		if h.comp(id) != Operational {
			t.Errorf("%s is %s with the location at fault out of the vote, want operational", id, h.comp(id))
		}
	}
	if len(h.open()) != 0 {
		t.Fatal("an incident from a location at fault")
	}
	for range 2 {
		evs = all(probes.Up, threeLocations...)
	}
	if _, ok := h.e.State().Faulty["eu-west"]; ok || count(evs, MonitorLocationRestored) != 1 {
		t.Fatalf("after it recovered: faulty %v, events %v", h.e.State().Faulty, evs)
	}
}

// Failures against one host only, or fewer than three checks, are no
// fault of the location: they stay regional.
func TestVoteOneHostIsNoLocationFault(t *testing.T) {
	m := hostModel()
	m.Checks[2].Host, m.Checks[3].Host = "api.example.com", "api.example.com"
	h := newHarness(t, m)
	names := []string{"api-1", "api-2", "web-1", "db-1"}
	for _, n := range names {
		h.at(n, probes.Up, threeLocations...)
	}
	for range 3 {
		for _, n := range names {
			h.at(n, probes.Down, "eu-west")
			h.at(n, probes.Up, "ap-southeast", "us-east")
		}
	}
	if len(h.e.State().Faulty) != 0 {
		t.Fatalf("faulty %v from failures against one host", h.e.State().Faulty)
	}
	if h.comp("api") != DegradedPerformance || !slices.Equal(h.e.State().Checks["api-1"].Regional, []string{"eu-west"}) {
		t.Fatalf("api %s, regional %v: want regional trouble from eu-west", h.comp("api"), h.e.State().Checks["api-1"].Regional)
	}
}

// With one location cut off (its canaries down), a real outage seen by
// the two others is announced at once: the single node's wait for its
// canaries does not apply to a vote.
func TestVoteOutageWithALocationCutOff(t *testing.T) {
	h := newHarness(t, hostModel())
	h.at("canary", probes.Up, threeLocations...)
	h.at("db-1", probes.Up, threeLocations...)
	h.at("canary", probes.Down, "eu-west")
	h.at("db-1", probes.Down, "us-east")
	ch := h.at("db-1", probes.Down, "ap-southeast")
	if st := h.e.State().Checks["db-1"].Status; st != CheckDown || !hasEvent(ch, IncidentCreated) {
		t.Fatalf("db-1 %s, events %v: want down and the incident opened in the same step", st, eventTypes(ch))
	}
}

// A member that restarts (its engine loaded from the state its file
// holds) at any step reaches the same state and the same events as one
// that never stopped: nothing the vote decides hangs on the engine's own
// caches (a new location's first run once changed who was at fault).
func TestVoteSameAcrossRestarts(t *testing.T) {
	run := func(restartEvery int) ([]byte, []EventType) {
		m := hostModel()
		e := NewEngine(m, nil)
		rng := rand.New(rand.NewPCG(3, 9))
		now := t0
		var evs []EventType
		names := []string{"api-1", "api-2", "web-1", "db-1", "canary"}
		for i := range 600 {
			if restartEvery > 0 && i%restartEvery == restartEvery-1 {
				e = reload(t, hostModel(), e.State())
			}
			now = now.Add(time.Duration(1+rng.IntN(4)) * time.Second)
			var rs []CheckResult
			for range 1 + rng.IntN(5) {
				loc := threeLocations[rng.IntN(3)]
				if i < 40 && loc == "ap-southeast" { // a location that starts late
					continue
				}
				o := probes.Up
				if (loc == "eu-west" && i > 100 && i < 400 && rng.IntN(4) > 0) || rng.IntN(9) == 0 {
					o = probes.Down
				}
				rs = append(rs, CheckResult{Check: names[rng.IntN(len(names))], At: now, Location: loc, Result: probes.Result{Outcome: o, Reason: probes.ReasonTimeout}})
			}
			evs = append(evs, eventTypes(e.Apply(Batch{Now: now, Results: rs}))...)
		}
		b, err := json.Marshal(e.State())
		if err != nil {
			t.Fatal(err)
		}
		return b, evs
	}
	want, wantEvs := run(0)
	if !slices.Contains(wantEvs, MonitorLocationFault) {
		t.Fatalf("the script judged no location at fault: %v", wantEvs)
	}
	for _, every := range []int{1, 7, 50} {
		got, evs := run(every)
		if !slices.Equal(evs, wantEvs) {
			t.Errorf("restarted every %d steps: events differ\n got %v\nwant %v", every, evs, wantEvs)
		}
		if string(got) != string(want) {
			t.Errorf("restarted every %d steps: the state differs", every)
		}
	}
}

// A check that stops being voted (the cluster shrank to one location, or
// its locations were cut to one) leaves no regional trouble behind.
func TestRegionalEndsWithTheVote(t *testing.T) {
	h := newHarness(t, voteModel(Voting{}))
	h.at("api-1", probes.Up, threeLocations...)
	h.at("api-2", probes.Up, threeLocations...)
	for range 3 {
		h.at("api-1", probes.Down, "eu-west")
		h.at("api-1", probes.Up, "ap-southeast", "us-east")
	}
	if h.comp("api") != DegradedPerformance {
		t.Fatalf("api %s, want regional trouble first", h.comp("api"))
	}
	h.e.SetModel(testModel()) // one node again
	h.at("api-1", probes.Up, "")
	if h.comp("api") != Operational {
		t.Fatalf("a single node's api is %s with a cluster's regional trouble left behind", h.comp("api"))
	}
}

// Every location cut off by its canaries: the monitor as a whole says
// connectivity is degraded, as one node does, rather than fresh green
// (no location's failures count, so no check goes down).
func TestVoteEveryLocationCutOff(t *testing.T) {
	h := newHarness(t, hostModel())
	h.at("canary", probes.Up, threeLocations...)
	h.at("db-1", probes.Up, threeLocations...)
	ch := h.at("canary", probes.Down, threeLocations...)
	h.at("db-1", probes.Down, threeLocations...)
	if h.e.State().ConnectivitySince.IsZero() || !hasEvent(ch, MonitorConnectivityLost) {
		t.Fatalf("every location cut off: connectivity since %v, events %v", h.e.State().ConnectivitySince, eventTypes(ch))
	}
}

// reload is a member's restart: its engine loaded from the state its file
// holds (the JSON the store keeps).
func reload(t *testing.T, m *Model, st *State) *Engine {
	t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	again := NewState()
	if err := json.Unmarshal(b, again); err != nil {
		t.Fatal(err)
	}
	return NewEngine(m, again)
}

// A location's first run of a check is an input of who is at fault: a
// member restarted right after it judges again and must agree with those
// that never stopped (a reviewer found a restart dropping eu-west from
// the faulty locations, with events and ids the others never made).
func TestVoteRestartJudgesAlike(t *testing.T) {
	h := newHarness(t, hostModel())
	names := []string{"api-1", "api-2", "web-1", "db-1"}
	for _, n := range names {
		h.at(n, probes.Up, "eu-west", "us-east")
	}
	for range 3 {
		for _, n := range names {
			h.at(n, probes.Down, "eu-west")
			h.at(n, probes.Up, "us-east")
		}
	}
	if _, ok := h.e.State().Faulty["eu-west"]; !ok {
		t.Fatalf("setup: faulty %v, want eu-west", h.e.State().Faulty)
	}
	for _, n := range names[:3] { // ap-southeast's first runs: down once, its status still unknown
		h.at(n, probes.Down, "ap-southeast")
	}
	other := &harness{t: t, e: reload(t, hostModel(), h.e.State()), now: h.now}
	h.now = h.now.Add(time.Second)
	other.now = h.now
	a, b := h.step(), other.step()
	ja, _ := json.Marshal(h.e.State())
	jb, _ := json.Marshal(other.e.State())
	if string(ja) != string(jb) {
		t.Fatalf("running member: faulty %v, events %v; restarted member: faulty %v, events %v",
			h.e.State().Faulty, eventTypes(a), other.e.State().Faulty, eventTypes(b))
	}
}
