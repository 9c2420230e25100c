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
	if len(counts) != 2 || counts["home"]+counts["api"] != n {
		t.Fatalf("a busted URL lost its name: %v", counts)
	}
	if share := float64(busted) / n; math.Abs(share-0.2) > 0.02 {
		t.Fatalf("busted share %.3f, want 0.2", share)
	}
}

func TestQueriesInAnyOrderKeepTheirNames(t *testing.T) {
	m, err := newMix([]Request{
		{Name: "a", Method: "GET", URL: "http://127.0.0.1:1/s?y=2&x=1", Weight: 1},
		{Name: "b", Method: "GET", URL: "http://127.0.0.1:1/s?x=1&y=2", Weight: 1},
		{Name: "c", Method: "GET", URL: "http://127.0.0.1:1/q?a=1;b=2", Weight: 1},
	}, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		var target vegeta.Target
		_ = m.next(&target)
		name := m.nameOf(target.Method, target.URL)
		want := map[string]string{"/s?y=2&x=1": "a", "/s?x=1&y=2": "b", "/q?a=1;b=2": "c"}
		prefix := strings.TrimPrefix(target.URL, "http://127.0.0.1:1")
		prefix = prefix[:strings.Index(prefix, "&"+BustParam)]
		if want[prefix] != name {
			t.Fatalf("%s was counted as %q", target.URL, name)
		}
	}
}

func TestMixRefusesZeroWeights(t *testing.T) {
	if _, err := newMix([]Request{{Name: "a", Method: "GET", URL: "http://127.0.0.1:1/", Weight: 0}}, 0, 1); err == nil {
		t.Fatal("a mix whose weights sum to 0 was accepted")
	}
}
