package blob_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/blob"
)

// The store-level cases (each rejected key) live in blobtest; these pin the
// keys the pipeline writes as valid, and the limits exactly.
func TestCheckKey(t *testing.T) {
	cases := []struct {
		name  string
		key   string
		valid bool
	}{
		{"dataset", "datasets/as_of=2024-01-31/snapshot.parquet", true},
		{"model", "models/churn/v12/model.json", true},
		{"report", "reports/drift/2024-01-31_vs_2024-02-29.html", true},
		{"single segment", "a", true},
		{"unicode and spaces", "reports/Jan vs Fév.html", true},
		{"dot inside a segment", "a/b.c/d..e", true},
		{"longest key", strings.Repeat("k/", blob.MaxKeyLen/2-1) + "kk", true},
		{"longest segment", strings.Repeat("s", blob.MaxSegmentLen), true},
		{"one byte too long", strings.Repeat("k/", blob.MaxKeyLen/2) + "k", false},
		{"segment one byte too long", strings.Repeat("s", blob.MaxSegmentLen+1), false},
		{"empty", "", false},
		{"leading slash", "/a", false},
		{"trailing slash", "a/", false},
		{"dot-dot", "a/../b", false},
		{"hidden", "a/.b", false},
		{"backslash", `a\b`, false},
		{"DEL", "a\x7fb", false},
		{"tab", "a\tb", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := blob.CheckKey(tc.key)
			if tc.valid && err != nil {
				t.Errorf("CheckKey(%q): %v, want valid", tc.key, err)
			}
			if !tc.valid && !errors.Is(err, blob.ErrBadKey) {
				t.Errorf("CheckKey(%q): %v, want ErrBadKey", tc.key, err)
			}
		})
	}
}
