package main

import (
	"math"
	"testing"
	"time"
)

// simulate runs the pacer the way vegeta's attack loop does (a hit after every wait, until
// the pacer stops) and counts hits per second.
func simulate(p *stagePacer, total time.Duration) []int {
	perSecond := make([]int, int(total/time.Second))
	var hits uint64
	for t := time.Duration(0); t < total; {
		wait, stop := p.Pace(t, hits)
		if stop {
			break
		}
		t += wait
		if s := int(t / time.Second); s < len(perSecond) {
			perSecond[s]++
		}
		hits++
	}
	return perSecond
}

func TestHoldIsConstant(t *testing.T) {
	got := simulate(newStagePacer([]Stage{{DurationMs: 5000, From: 40, To: 40}}, 0), 5*time.Second)
	for i, n := range got {
		if n < 39 || n > 41 {
			t.Fatalf("second %d: %d hits, want 40", i, n)
		}
	}
}

func TestRampFollowsTheLine(t *testing.T) {
	p := newStagePacer([]Stage{{DurationMs: 10000, From: 0, To: 100}, {DurationMs: 5000, From: 100, To: 100}}, 0)
	got := simulate(p, 15*time.Second)
	for i := 0; i < 10; i++ {
		want := float64(i)*10 + 5
		if math.Abs(float64(got[i])-want) > 1.5 {
			t.Fatalf("ramp second %d: %d hits, want %.0f", i, got[i], want)
		}
	}
	for i := 10; i < 15; i++ {
		if got[i] < 99 || got[i] > 101 {
			t.Fatalf("hold second %d: %d hits, want 100", i, got[i])
		}
	}
}

func TestZeroRateSendsNothingAndStopsWhenNothingIsEverDue(t *testing.T) {
	p := newStagePacer([]Stage{{DurationMs: 3000, From: 0, To: 0}, {DurationMs: 2000, From: 50, To: 50}}, 0)
	got := simulate(p, 5*time.Second)
	if got[0]+got[1]+got[2] != 0 || got[3] < 49 || got[3] > 51 {
		t.Fatalf("hits per second %v, want none while the rate is 0", got)
	}
	down := newStagePacer([]Stage{{DurationMs: 2000, From: 20, To: 0}}, 0)
	if total := sum(simulate(down, 10*time.Second)); total != 20 {
		t.Fatalf("%d hits for a ramp down from 20/s to 0 over 2s, want 20 and then none", total)
	}
	slow := newStagePacer([]Stage{{DurationMs: 11000, From: 0.5, To: 0.5}}, 11*time.Second)
	if total := sum(simulate(slow, 11*time.Second)); total != 5 {
		t.Fatalf("%d hits at 0.5/s over 11s, want 5", total)
	}
	limited := newStagePacer([]Stage{{DurationMs: 1000, From: 10, To: 10}}, 500*time.Millisecond)
	if total := sum(simulate(limited, 2*time.Second)); total != 5 {
		t.Fatalf("%d hits at 10/s with a 500ms limit, want 5 (none after the limit)", total)
	}
}

func sum(values []int) int {
	total := 0
	for _, v := range values {
		total += v
	}
	return total
}

func TestRampDownAndRate(t *testing.T) {
	p := newStagePacer([]Stage{{DurationMs: 4000, From: 80, To: 0}}, 0)
	if r := p.Rate(2 * time.Second); math.Abs(r-40) > 1e-9 {
		t.Fatalf("rate at 2s: %v, want 40", r)
	}
	got := simulate(p, 4*time.Second)
	total := 0
	for _, n := range got {
		total += n
	}
	if total < 159 || total > 161 {
		t.Fatalf("%d hits over the ramp down, want 160", total)
	}
}
