package main

import (
	"math"
	"time"
)

// Stage is one leg of the load: over DurationMs the rate goes linearly from From to To
// requests per second. A hold has From == To.
type Stage struct {
	DurationMs int64   `json:"durationMs"`
	From       float64 `json:"from"`
	To         float64 `json:"to"`
}

// stagePacer is a vegeta Pacer whose rate follows the stages; after the last stage it holds
// the last stage's To (the attack's duration normally ends the load first).
type stagePacer struct {
	stages []Stage
	// starts[i] is when stage i begins, and before[i] the hits due by then.
	starts []time.Duration
	before []float64
}

// idleRecheck bounds a wait while the rate is 0, so that a ramp out of 0 is not missed.
const idleRecheck = 100 * time.Millisecond

func newStagePacer(stages []Stage) *stagePacer {
	p := &stagePacer{stages: stages}
	var at time.Duration
	var due float64
	for _, s := range stages {
		p.starts = append(p.starts, at)
		p.before = append(p.before, due)
		d := time.Duration(s.DurationMs) * time.Millisecond
		due += (s.From + s.To) / 2 * d.Seconds()
		at += d
	}
	p.starts = append(p.starts, at)
	p.before = append(p.before, due)
	return p
}

// locate returns the stage that holds t, or len(stages) after the last one.
func (p *stagePacer) locate(t time.Duration) int {
	for i, s := range p.stages {
		if t < p.starts[i]+time.Duration(s.DurationMs)*time.Millisecond {
			return i
		}
	}
	return len(p.stages)
}

// Rate is the rate in requests per second at t.
func (p *stagePacer) Rate(t time.Duration) float64 {
	i := p.locate(t)
	if i == len(p.stages) {
		if i == 0 {
			return 0
		}
		return p.stages[i-1].To
	}
	s := p.stages[i]
	frac := float64(t-p.starts[i]) / float64(time.Duration(s.DurationMs)*time.Millisecond)
	return s.From + (s.To-s.From)*frac
}

// due is the number of hits the stages ask for by t: the integral of the rate.
func (p *stagePacer) due(t time.Duration) float64 {
	i := p.locate(t)
	into := (t - p.starts[i]).Seconds()
	return p.before[i] + (p.startRate(i)+p.Rate(t))/2*into
}

func (p *stagePacer) startRate(i int) float64 {
	if i == len(p.stages) {
		if i == 0 {
			return 0
		}
		return p.stages[i-1].To
	}
	return p.stages[i].From
}

// Pace tells the attack how long to wait before its next hit: none while it is behind, else
// until the rate's integral reaches one more hit.
func (p *stagePacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	want := float64(hits) + 1
	if p.due(elapsed) >= want {
		return 0, false
	}
	lo, hi := elapsed, elapsed+time.Second
	if p.due(hi) < want {
		return idleRecheck, false
	}
	for hi-lo > 50*time.Microsecond {
		mid := lo + (hi-lo)/2
		if p.due(mid) >= want {
			hi = mid
		} else {
			lo = mid
		}
	}
	return time.Duration(math.Max(float64(hi-elapsed), 0)), false
}
