package featurestore_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/churnops/churnops/internal/featurestore"
)

func TestDedupe(t *testing.T) {
	r := func(id string, x float64) featurestore.Record {
		return featurestore.Record{UserID: id, Features: map[string]any{"x": x}}
	}
	cases := []struct {
		in, want []featurestore.Record
	}{
		{nil, nil},
		{[]featurestore.Record{r("a", 1), r("b", 2)}, []featurestore.Record{r("a", 1), r("b", 2)}},
		{[]featurestore.Record{r("a", 1), r("b", 2), r("a", 3)}, []featurestore.Record{r("a", 3), r("b", 2)}},
		{[]featurestore.Record{r("a", 1), r("a", 2), r("a", 3)}, []featurestore.Record{r("a", 3)}},
	}
	for _, tc := range cases {
		if got := featurestore.Dedupe(tc.in); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("Dedupe(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestCheckAsOf(t *testing.T) {
	for _, s := range []string{"2024-01-31", "2999-12-31"} {
		if err := featurestore.CheckAsOf(s); err != nil {
			t.Errorf("CheckAsOf(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "2024-1-31", "2024-02-30", "../2024-01-31", "2024-01-31/x"} {
		if err := featurestore.CheckAsOf(s); !errors.Is(err, featurestore.ErrInvalid) {
			t.Errorf("CheckAsOf(%q) = %v, want ErrInvalid", s, err)
		}
	}
}
