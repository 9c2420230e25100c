package main

import (
	"math"
	"testing"
	"time"
)

// simulate runs the pacer the way vegeta's attack loop does and counts hits per second.
func simulate(p *stagePacer, total time.Duration) []int {
	perSecond := make([]int, int(total/time.Second))
	var hits uint64
	for t := time.Duration(0); t < total; {
		wait, _ := p.Pace(t, hits)
		if wait > 0 {
			t += wait
			continue
		}
		if s := int(t / time.Second); s < len(perSecond) {
			perSecond[s]++
		}
		hits++
	}
	return perSecond
}

func TestHoldIsConstant(t *testing.T) {
	got := simulate(newStagePacer([]Stage{{DurationMs: 5000, From: 40, To: 40}}), 5*time.Second)
	for i, n := range got {
		if n < 39 || n > 41 {
			t.Fatalf("second %d: %d hits, want 40", i, n)
		}
	}
}

func TestRampFollowsTheLine(t *testing.T) {
	p := newStagePacer([]Stage{{DurationMs: 10000, From: 0, To: 100}, {DurationMs: 5000, From: 100, To: 100}})
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

func TestZeroRateWaitsAndRechecks(t *testing.T) {
	p := newStagePacer([]Stage{{DurationMs: 3000, From: 0, To: 0}, {DurationMs: 2000, From: 50, To: 50}})
	wait, stop := p.Pace(0, 0)
	if stop || wait != idleRecheck {
		t.Fatalf("at rate 0: wait %v stop %v, want a recheck after %v", wait, stop, idleRecheck)
	}
	got := simulate(p, 5*time.Second)
	if got[0]+got[1] != 0 || got[3] < 49 || got[3] > 51 {
		t.Fatalf("hits per second %v", got)
	}
}

func TestRampDownAndRate(t *testing.T) {
	p := newStagePacer([]Stage{{DurationMs: 4000, From: 80, To: 0}})
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
