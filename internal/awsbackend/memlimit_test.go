package awsbackend

import "testing"

func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want int64
	}{
		{"a 2 GB function", map[string]string{lambdaMemoryEnv: "2048"}, 2048 << 20 / 10 * 9},
		{"a 128 MB function", map[string]string{lambdaMemoryEnv: "128"}, 128 << 20 / 10 * 9},
		{"GOMEMLIMIT wins", map[string]string{lambdaMemoryEnv: "2048", "GOMEMLIMIT": "1GiB"}, 0},
		{"outside Lambda", map[string]string{}, 0},
		{"garbage", map[string]string{lambdaMemoryEnv: "lots"}, 0},
		{"zero", map[string]string{lambdaMemoryEnv: "0"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := memoryLimit(func(k string) string { return tc.env[k] })
			if got != tc.want {
				t.Errorf("memoryLimit = %d, want %d", got, tc.want)
			}
		})
	}
}
