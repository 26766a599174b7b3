package gbdt

// splitmix is SplitMix64: a tiny, fully specified generator, so that a seed
// gives the same subsamples on every Go version and platform (math/rand's
// higher-level helpers do not promise a stable stream).
type splitmix struct{ s uint64 }

func (r *splitmix) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a uniform value in [0, 1).
func (r *splitmix) float() float64 { return float64(r.next()>>11) * 0x1p-53 }

// intn returns a value in [0, n); the modulo bias is below 2^-40 for the
// sizes used here.
func (r *splitmix) intn(n int) int { return int(r.next() % uint64(n)) }

// shuffle permutes xs uniformly (Fisher–Yates).
func shuffle[T any](r *splitmix, xs []T) {
	for i := len(xs) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		xs[i], xs[j] = xs[j], xs[i]
	}
}
