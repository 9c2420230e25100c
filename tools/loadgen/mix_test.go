package main

import (
	"math"
	"strings"
	"testing"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestMixFollowsWeightsAndBustsAShare(t *testing.T) {
	m, err := newMix([]Request{
		{Name: "home", Method: "GET", URL: "http://127.0.0.1:1/?b=2&a=1", Weight: 3},
		{Name: "api", Method: "POST", URL: "http://127.0.0.1:1/api", Body: "e30=", Weight: 1},
	}, 0.2, 1)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	busted := 0
	const n = 20000
	for i := 0; i < n; i++ {
		var target vegeta.Target
		if err := m.next(&target); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(target.URL, BustParam+"=") {
			busted++
		}
		counts[m.nameOf(target.Method, target.URL)]++
		if target.Method == "POST" && string(target.Body) != "{}" {
			t.Fatalf("body %q", target.Body)
		}
	}
	if share := float64(counts["home"]) / n; math.Abs(share-0.75) > 0.02 {
		t.Fatalf("home share %.3f, want 0.75 (counts %v)", share, counts)
	}
	if counts["home"]+counts["api"] != n {
		t.Fatalf("a busted URL lost its name: %v", counts)
	}
	if share := float64(busted) / n; math.Abs(share-0.2) > 0.02 {
		t.Fatalf("busted share %.3f, want 0.2", share)
	}
}

func TestMixRefusesZeroWeights(t *testing.T) {
	if _, err := newMix([]Request{{Name: "a", Method: "GET", URL: "http://127.0.0.1:1/", Weight: 0}}, 0, 1); err == nil {
		t.Fatal("a mix whose weights sum to 0 was accepted")
	}
}
